#!/usr/bin/env python3
"""Reference RDP and epsilon values of the Poisson-sampled Gaussian mechanism, in 50-digit
arithmetic, for RdpAccountantReferenceTest.

Independent of the series Ember (and Opacus) use: for 0 < q < 1 the Renyi moment

    A_alpha = E_{z ~ N(0, sigma^2)} [ (1 - q + q exp((2z - 1) / (2 sigma^2)))^alpha ]

(Mironov, Talwar and Zhang 2019, Section 3) is integrated numerically with the trapezoidal rule
in Python's decimal module, as A_alpha - 1 = E[(...)^alpha - 1] so that small values keep all
their digits. The integrand is analytic in the strip |Im z| < pi sigma^2 (its branch points are at
z0 + i pi sigma^2 (2m + 1)) and Gaussian-tailed, so the rule converges geometrically: with step
h = min(sigma / 4, sigma^2 / 4) the discretisation error is below exp(-78) relative, and the
range [-15 sigma, alpha + 15 sigma] leaves out less than exp(-110). Integer orders are also
computed exactly from the binomial expansion, sum_k C(alpha, k) (1-q)^(alpha-k) q^k
exp((k^2 - k) / (2 sigma^2)), and the two must agree to 1e-30 relative (checked on every run);
`--check` also halves the step for a few fractional cases. q = 1 is the Gaussian mechanism,
alpha / (2 sigma^2) (Mironov 2017, Corollary 3).

RDP per step = log(A_alpha) / (alpha - 1). Epsilon is the conversion of Balle et al. 2020
(Theorem 21), as Opacus' privacy_analysis.get_privacy_spent computes it,

    eps = min over alpha of  T rdp(alpha) - (log(delta) + log(alpha)) / (alpha - 1) + log((alpha - 1) / alpha),

over Opacus' DEFAULT_ALPHAS = [1 + x / 10 for x in 1..99] + [12..63]. (Ember's accountant also
returns 0 when some order's RDP r has sqrt(1 - exp(-r)) <= delta; the script checks that this
never happens on the grid, so both conversions give the same number.)

Writes rdp_reference_orders.csv (q, sigma, order, rdp per step) and rdp_reference_epsilon.csv
(q, sigma, steps, delta, epsilon, optimal order) next to this file. Run:
    python3 rdp_reference.py [--check]
Takes about a minute (Python 3.8+, standard library only).
"""

import decimal
import os
import sys
from decimal import Decimal as D

decimal.getcontext().prec = 50

QS = ["0.001", "0.01", "0.1", "0.5", "1"]
SIGMAS = ["0.5", "0.8", "1", "2", "5", "10"]
STEPS = [1, 100, 10000, 100000]
DELTAS = ["1e-5", "1e-8"]
ORDERS = [D(10 + x) / 10 for x in range(1, 100)] + [D(a) for a in range(12, 64)]

PI = D("3.14159265358979323846264338327950288419716939937510582097494459")


def log_a_binomial(q, sigma, alpha):
    """log(A_alpha) for integer alpha, exactly (binomial expansion)."""
    n = int(alpha)
    two_s2 = 2 * sigma * sigma
    total = D(0)
    coef = 1
    for k in range(n + 1):
        if k > 0:
            coef = coef * (n - k + 1) // k
        total += D(coef) * (1 - q) ** (n - k) * q**k * (D(k * k - k) / two_s2).exp()
    return total.ln()


class Integrator:
    """Trapezoidal rule for A_alpha - 1 on one grid per (q, sigma), shared by the orders."""

    def __init__(self, q, sigma, step_divisor=1):
        self.q = q
        self.sigma = sigma
        two_s2 = 2 * sigma * sigma
        self.h = min(sigma / 4, sigma * sigma / 4) / step_divisor
        lo = int((-15 * sigma / self.h).to_integral_value(decimal.ROUND_FLOOR))
        hi = int(((max(ORDERS) + 15 * sigma) / self.h).to_integral_value(decimal.ROUND_CEILING))
        norm = 1 / (sigma * (2 * PI).sqrt())
        self.points = []  # (z, density, log of the mixture ratio)
        for i in range(lo, hi + 1):
            z = i * self.h
            density = norm * (-z * z / two_s2).exp()
            ratio = 1 - q + q * ((2 * z - 1) / two_s2).exp()
            self.points.append((z, density, ratio.ln()))

    def log_a(self, alpha):
        top = alpha + 15 * self.sigma
        total = D(0)
        for z, density, log_ratio in self.points:
            if z > top:
                break
            total += density * ((alpha * log_ratio).exp() - 1)
        # The far ends hold less than exp(-110) of the integrand: the end weights 1/2 do not matter.
        return (1 + total * self.h).ln()


def rdp_per_step(q, sigma, integrator, alpha):
    if q == 1:
        return alpha / (2 * sigma * sigma)
    log_a = integrator.log_a(alpha)
    if alpha == alpha.to_integral_value():
        exact = log_a_binomial(q, sigma, alpha)
        if abs(exact - log_a) > D("1e-30") * abs(exact):
            raise AssertionError(
                "integration and binomial sum disagree at q=%s sigma=%s alpha=%s: %s vs %s"
                % (q, sigma, alpha, log_a, exact)
            )
        log_a = exact
    return log_a / (alpha - 1)


def epsilon(rdp, steps, delta):
    best = None
    for alpha, r in zip(ORDERS, rdp):
        total = steps * r
        # Ember's KL-divergence shortcut (epsilon 0) applies iff delta^2 > 1 - exp(-total).
        if delta * delta > 1 - (-total).exp():
            raise AssertionError("KL bound applies at order %s; the table assumes it never does" % alpha)
        eps = total - (delta.ln() + alpha.ln()) / (alpha - 1) + ((alpha - 1) / alpha).ln()
        if best is None or eps < best[0]:
            best = (eps, alpha)
    return best


def check_step_halving():
    for q, sigma in [("0.1", "0.5"), ("0.001", "10"), ("0.5", "0.8"), ("0.01", "2")]:
        q, sigma = D(q), D(sigma)
        a, b = Integrator(q, sigma), Integrator(q, sigma, 2)
        for alpha in [D("1.1"), D("2.5"), D("7.3"), D("10.9")]:
            x, y = a.log_a(alpha), b.log_a(alpha)
            rel = abs(x - y) / abs(y)
            print("check q=%s sigma=%s alpha=%s: h vs h/2 relative %.1e" % (q, sigma, alpha, rel))
            assert rel < D("1e-30"), rel


def main():
    if "--check" in sys.argv:
        check_step_halving()
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "rdp_reference_orders.csv"), "w") as orders_out, open(
        os.path.join(here, "rdp_reference_epsilon.csv"), "w"
    ) as eps_out:
        orders_out.write("q,sigma,order,rdp_per_step\n")
        eps_out.write("q,sigma,steps,delta,epsilon,optimal_order\n")
        for qs in QS:
            for ss in SIGMAS:
                q, sigma = D(qs), D(ss)
                integrator = None if q == 1 else Integrator(q, sigma)
                rdp = [rdp_per_step(q, sigma, integrator, a) for a in ORDERS]
                for alpha, r in zip(ORDERS, rdp):
                    orders_out.write("%s,%s,%s,%s\n" % (qs, ss, alpha, format(r, ".20e")))
                for steps in STEPS:
                    for ds in DELTAS:
                        eps, alpha = epsilon(rdp, steps, D(ds))
                        eps_out.write(
                            "%s,%s,%d,%s,%s,%s\n" % (qs, ss, steps, ds, format(eps, ".20e"), alpha)
                        )
                print("q=%s sigma=%s done" % (qs, ss), file=sys.stderr)


if __name__ == "__main__":
    main()
