/*
 * The double-precision erf and erfc below are ported from FreeBSD msun lib/msun/src/s_erf.c, and
 * the single-precision erf from FreeBSD msun lib/msun/src/s_erff.c (its revised version with
 * lower-degree fits, "Conversion to float by Ian Lance Taylor, Cygnus Support"). Both carry this
 * notice:
 *
 * ====================================================
 * Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
 *
 * Developed at SunPro, a Sun Microsystems, Inc. business.
 * Permission to use, copy, modify, and distribute this
 * software is freely granted, provided that this notice
 * is preserved.
 * ====================================================
 */
package org.emberdl.tensor.cpu;

/**
 * The error function for the exact GELU activation, {@code x * 0.5 * (1 + erf(x / sqrt(2)))}.
 *
 * <p>The JDK has no erf, so this is a pure-Java port of fdlibm's rational approximations (FreeBSD
 * msun). In outline, for {@code ax = |x|}:
 *
 * <ul>
 *   <li>{@code ax < 0.84375}: {@code erf(x) = x + x * P(x^2) / Q(x^2)}, which keeps full relative
 *       precision near 0 because {@code (erf(x) - x) / x} is smooth there.
 *   <li>{@code 0.84375 <= ax < 1.25}: {@code erf(x) = sign(x) * (erx + P(ax - 1) / Q(ax - 1))} with
 *       {@code erx} a 24-bit constant near {@code erf(1)}, so the fitted remainder stays small.
 *   <li>{@code 1.25 <= ax < 28}: {@code erfc(ax) = exp(-ax^2 - 0.5625 + R(1/ax^2) / S(1/ax^2)) /
 *       ax}, the asymptotic form of erfc with its correction fitted on {@code [1.25, 1/0.35)} and
 *       on {@code [1/0.35, 28)}; {@code erf = 1 - erfc}, which is exactly 1 in double once {@code
 *       ax >= 6}.
 * </ul>
 *
 * <p>The double versions keep fdlibm's coefficients and evaluation order: erf stays within one ulp
 * (worst seen 0.82) and erfc within about 2.5, as fdlibm's own. The float version uses FreeBSD's
 * float fits (error 2^-28 or less, far under a float ulp) but evaluates them in double and rounds
 * once at the end, for about half an ulp of float (worst seen 0.53) at less cost than the double
 * version.
 */
final class SpecialFunctions {

  private SpecialFunctions() {}

  // ---- Coefficients from s_erf.c, copied digit for digit; the hex words are the IEEE bits. ----

  /**
   * (float) 0.84506291151, a constant near erf(1) = 0.8427 whose 24 significant bits make {@code 1
   * - ERX} exact. 0x3FEB0AC1, 0x60000000
   */
  private static final double ERX = 8.45062911510467529297e-01;

  /** 2/sqrt(pi) - 1, for |x| < 2^-28 where erf(x) = 2x/sqrt(pi) to double precision. */
  private static final double EFX = 1.28379167095512586316e-01; // 0x3FC06EBA, 0x8214DB69

  /** 8 * EFX, for subnormal-adjacent x where EFX * x alone would lose bits to underflow. */
  private static final double EFX8 = 1.02703333676410069053e+00; // 0x3FF06EBA, 0x8214DB69

  // erf on [0, 0.84375]: |(erf(x) - x)/x - PP(x^2)/QQ(x^2)| <= 2^-57.90
  private static final double PP0 = 1.28379167095512558561e-01; // 0x3FC06EBA, 0x8214DB68
  private static final double PP1 = -3.25042107247001499370e-01; // 0xBFD4CD7D, 0x691CB913
  private static final double PP2 = -2.84817495755985104766e-02; // 0xBF9D2A51, 0xDBD7194F
  private static final double PP3 = -5.77027029648944159157e-03; // 0xBF77A291, 0x236668E4
  private static final double PP4 = -2.37630166566501626084e-05; // 0xBEF8EAD6, 0x120016AC
  private static final double QQ1 = 3.97917223959155352819e-01; // 0x3FD97779, 0xCDDADC09
  private static final double QQ2 = 6.50222499887672944485e-02; // 0x3FB0A54C, 0x5536CEBA
  private static final double QQ3 = 5.08130628187576562776e-03; // 0x3F74D022, 0xC4D36B0F
  private static final double QQ4 = 1.32494738004321644526e-04; // 0x3F215DC9, 0x221C1A10
  private static final double QQ5 = -3.96022827877536812320e-06; // 0xBED09C43, 0x42A26120

  // erf on [0.84375, 1.25] with s = |x| - 1: |PA(s)/QA(s) - (erf(|x|) - ERX)| <= 2^-59.06
  private static final double PA0 = -2.36211856075265944077e-03; // 0xBF6359B8, 0xBEF77538
  private static final double PA1 = 4.14856118683748331666e-01; // 0x3FDA8D00, 0xAD92B34D
  private static final double PA2 = -3.72207876035701323847e-01; // 0xBFD7D240, 0xFBB8C3F1
  private static final double PA3 = 3.18346619901161753674e-01; // 0x3FD45FCA, 0x805120E4
  private static final double PA4 = -1.10894694282396677476e-01; // 0xBFBC6398, 0x3D3E28EC
  private static final double PA5 = 3.54783043256182359371e-02; // 0x3FA22A36, 0x599795EB
  private static final double PA6 = -2.16637559486879084300e-03; // 0xBF61BF38, 0x0A96073F
  private static final double QA1 = 1.06420880400844228286e-01; // 0x3FBB3E66, 0x18EEE323
  private static final double QA2 = 5.40397917702171048937e-01; // 0x3FE14AF0, 0x92EB6F33
  private static final double QA3 = 7.18286544141962662868e-02; // 0x3FB2635C, 0xD99FE9A7
  private static final double QA4 = 1.26171219808761642112e-01; // 0x3FC02660, 0xE763351F
  private static final double QA5 = 1.36370839120290507362e-02; // 0x3F8BEDC2, 0x6B51DD1C
  private static final double QA6 = 1.19844998467991074170e-02; // 0x3F888B54, 0x5735151D

  // erfc on [1.25, 1/0.35] with s = 1/x^2: |RA(s)/SA(s) - (log(x erfc(x)) + x^2 + 0.5625)|
  // < 2^-62.57
  private static final double RA0 = -9.86494403484714822705e-03; // 0xBF843412, 0x600D6435
  private static final double RA1 = -6.93858572707181764372e-01; // 0xBFE63416, 0xE4BA7360
  private static final double RA2 = -1.05586262253232909814e+01; // 0xC0251E04, 0x41B0E726
  private static final double RA3 = -6.23753324503260060396e+01; // 0xC04F300A, 0xE4CBA38D
  private static final double RA4 = -1.62396669462573470355e+02; // 0xC0644CB1, 0x84282266
  private static final double RA5 = -1.84605092906711035994e+02; // 0xC067135C, 0xEBCCABB2
  private static final double RA6 = -8.12874355063065934246e+01; // 0xC0545265, 0x57E4D2F2
  private static final double RA7 = -9.81432934416914548592e+00; // 0xC023A0EF, 0xC69AC25C
  private static final double SA1 = 1.96512716674392571292e+01; // 0x4033A6B9, 0xBD707687
  private static final double SA2 = 1.37657754143519042600e+02; // 0x4061350C, 0x526AE721
  private static final double SA3 = 4.34565877475229228821e+02; // 0x407B290D, 0xD58A1A71
  private static final double SA4 = 6.45387271733267880336e+02; // 0x40842B19, 0x21EC2868
  private static final double SA5 = 4.29008140027567833386e+02; // 0x407AD021, 0x57700314
  private static final double SA6 = 1.08635005541779435134e+02; // 0x405B28A3, 0xEE48AE2C
  private static final double SA7 = 6.57024977031928170135e+00; // 0x401A47EF, 0x8E484A93
  private static final double SA8 = -6.04244152148580987438e-02; // 0xBFAEEFF2, 0xEE749A62

  // erfc on [1/0.35, 28], same form: error < 2^-61.52
  private static final double RB0 = -9.86494292470009928597e-03; // 0xBF843412, 0x39E86F4A
  private static final double RB1 = -7.99283237680523006574e-01; // 0xBFE993BA, 0x70C285DE
  private static final double RB2 = -1.77579549177547519889e+01; // 0xC031C209, 0x555F995A
  private static final double RB3 = -1.60636384855821916062e+02; // 0xC064145D, 0x43C5ED98
  private static final double RB4 = -6.37566443368389627722e+02; // 0xC083EC88, 0x1375F228
  private static final double RB5 = -1.02509513161107724954e+03; // 0xC0900461, 0x6A2E5992
  private static final double RB6 = -4.83519191608651397019e+02; // 0xC07E384E, 0x9BDC383F
  private static final double SB1 = 3.03380607434824582924e+01; // 0x403E568B, 0x261D5190
  private static final double SB2 = 3.25792512996573918826e+02; // 0x40745CAE, 0x221B9F0A
  private static final double SB3 = 1.53672958608443695994e+03; // 0x409802EB, 0x189D5118
  private static final double SB4 = 3.19985821950859553908e+03; // 0x40A8FFB7, 0x688C246A
  private static final double SB5 = 2.55305040643316442583e+03; // 0x40A3F219, 0xCEDF3BE6
  private static final double SB6 = 4.74528541206955367215e+02; // 0x407DA874, 0xE79FE763
  private static final double SB7 = -2.24409524465858183362e+01; // 0xC03670E2, 0x42712D62

  /**
   * Where the erfc fit switches from RA/SA to RB/SB: the largest double whose high word is below
   * 0x4006DB6D, i.e. just under 1/0.35. FreeBSD's erfc tests {@code ix < 0x4006DB6D} and its erf
   * {@code ix < 0x4006DB6E}; the two differ on a 2^-20-wide sliver where both fits are accurate, so
   * one shared tail (as musl also does) uses erfc's.
   */
  private static final double RA_LIMIT = Double.longBitsToDouble(0x4006DB6D00000000L);

  // ---- Coefficients from the revised s_erff.c. Widening these float literals to double keeps
  // them bit-exact, so the fits are the ones FreeBSD's error bounds were proved for. ----

  private static final double F_ERX = 8.42697144e-01f; // 0x3f57bb00

  // [0, 0.84375]: |(erf(x) - x)/x - pp(x)/qq(x)| < 2^-31
  private static final double F_PP0 = 1.28379166e-01f; // 0x3e0375d4
  private static final double F_PP1 = -3.36030394e-01f; // 0xbeac0c2d
  private static final double F_PP2 = -1.86261395e-03f; // 0xbaf422f4
  private static final double F_QQ1 = 3.12324315e-01f; // 0x3e9fe8f9
  private static final double F_QQ2 = 2.16070414e-02f; // 0x3cb10140
  private static final double F_QQ3 = -1.98859372e-03f; // 0xbb025311

  // [0.84375, 1.25]: |(erf(x) - erx) - pa(x)/qa(x)| < 2^-31
  private static final double F_PA0 = 3.65041046e-06f; // 0x3674f993
  private static final double F_PA1 = 4.15109307e-01f; // 0x3ed48935
  private static final double F_PA2 = -2.09395722e-01f; // 0xbe566bd5
  private static final double F_PA3 = 8.67677554e-02f; // 0x3db1b34b
  private static final double F_QA1 = 4.95560974e-01f; // 0x3efdba2b
  private static final double F_QA2 = 3.71248513e-01f; // 0x3ebe1449
  private static final double F_QA3 = 3.92478965e-02f; // 0x3d20c267

  // [1.25, 1/0.35]: |log(x*erfc(x)) + x^2 + 0.5625 - ra(x)/sa(x)| < 2^-28
  private static final double F_RA0 = -9.88156721e-03f; // 0xbc21e64c
  private static final double F_RA1 = -5.43658376e-01f; // 0xbf0b2d32
  private static final double F_RA2 = -1.66828310e+00f; // 0xbfd58a4d
  private static final double F_RA3 = -6.91554189e-01f; // 0xbf3109b2
  private static final double F_SA1 = 4.48581553e+00f; // 0x408f8bcd
  private static final double F_SA2 = 4.10799170e+00f; // 0x408374ab
  private static final double F_SA3 = 5.53855181e-01f; // 0x3f0dc974

  // [2.85715, 11]: |log(x*erfc(x)) + x^2 + 0.5625 - rb(x)/sb(x)| < 2^-30
  private static final double F_RB0 = -9.86496918e-03f; // 0xbc21a0ae
  private static final double F_RB1 = -5.48049808e-01f; // 0xbf0c4cfe
  private static final double F_RB2 = -1.84115684e+00f; // 0xbfebab07
  private static final double F_SB1 = 4.87132740e+00f; // 0x409be1ea
  private static final double F_SB2 = 3.04982710e+00f; // 0x4043305e
  private static final double F_SB3 = -7.61900663e-01f; // 0xbf430bec

  /** s_erff.c's switch point between the two tail fits, float bits 0x4036db8c (2.85715). */
  private static final double F_RA_LIMIT = Float.intBitsToFloat(0x4036db8c);

  /**
   * erf(x) to about one ulp: erf(+-0) = +-0, erf(+-inf) = +-1, erf(NaN) = NaN, and erf(-x) ==
   * -erf(x) exactly.
   */
  static double erf(double x) {
    double ax = Math.abs(x);
    // Branches run from small to large |x| since GELU inputs cluster near zero.
    if (ax < 0.84375) {
      if (ax < 0x1p-28) {
        // The x^3 term is below 2^-57 relative here, under half an ulp. Below 2^-1015, EFX * x
        // would be subnormal and lose bits, so scale up by 8 first (exactly) and back down once.
        if (ax < 0x1p-1015) {
          return (8 * x + EFX8 * x) / 8;
        }
        return x + EFX * x;
      }
      double z = x * x;
      double r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
      double s = 1 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
      // Adding the small correction x * r/s to x keeps the result's relative error near 2^-53.
      return x + x * (r / s);
    }
    if (ax < 1.25) {
      double p = erfNearOne(ax - 1);
      return x > 0 ? ERX + p : -ERX - p;
    }
    if (!(ax < 6)) {
      // erfc(6) < 2^-54, so erf rounds to +-1 from here on; NaN also fails the test above.
      return Double.isNaN(x) ? x : Math.copySign(1.0, x);
    }
    // A single exp of the rounded -ax * ax would be a quarter faster here, but its error (up to a
    // third of an ulp near ax = 1.25) makes erf step down across that switch of fits.
    double c = erfcTail(ax);
    return x > 0 ? 1 - c : c - 1;
  }

  /**
   * erfc(x) = 1 - erf(x) without the cancellation, to within about 2.5 ulps like fdlibm's;
   * erfc(+inf) = 0, erfc(-inf) = 2, erfc(NaN) = NaN.
   */
  static double erfc(double x) {
    double ax = Math.abs(x);
    if (ax < 0.84375) {
      if (ax < 0x1p-56) {
        return 1 - x;
      }
      double z = x * x;
      double r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
      double s = 1 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
      double y = r / s;
      if (x < 0.25) {
        return 1 - (x + x * y);
      }
      // erfc < 0.73 here, so 1 - erf would cancel a bit; 0.5 - x is exact (Sterbenz), which
      // leaves only the small x * y term rounded.
      return 0.5 - (x * y + (x - 0.5));
    }
    if (ax < 1.25) {
      double p = erfNearOne(ax - 1);
      // 1 - ERX is exact because ERX has only 24 significant bits.
      return x > 0 ? (1 - ERX) - p : 1 + (ERX + p);
    }
    if (ax < 28) {
      if (x < 0) {
        // erfc(-6) = 2 - 2e-17 already rounds to 2.
        return ax >= 6 ? 2.0 : 2 - erfcTail(ax);
      }
      return erfcTail(ax);
    }
    if (Double.isNaN(x)) {
      return x;
    }
    // erfc(28) ~ 6e-343 is below the smallest subnormal.
    return x > 0 ? 0.0 : 2.0;
  }

  /** erf(1 + s) - ERX for s in [-0.15625, 0.25), shared by erf and erfc. */
  private static double erfNearOne(double s) {
    double p = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
    double q = 1 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
    return p / q;
  }

  /**
   * The fitted log(ax * erfc(ax)) + ax^2 + 0.5625, as R(s)/S(s) in s = 1/ax^2, for ax in [1.25,
   * 28).
   */
  private static double tailFit(double ax) {
    double s = 1 / (ax * ax);
    if (ax < RA_LIMIT) {
      double r =
          RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
      // Split only to fit the line; the Horner order, and so the rounding, is fdlibm's.
      double qHigh = SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)));
      return r / (1 + s * (SA1 + s * (SA2 + s * (SA3 + s * qHigh))));
    }
    double r = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
    return r
        / (1 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7)))))));
  }

  /** erfc(ax) for ax in [1.25, 28). */
  private static double erfcTail(double ax) {
    // Rounding ax * ax would put an absolute error of up to 2^-53 * 28^2 into the exponent, i.e.
    // hundreds of ulps in the result. z is ax cut to 21 significant bits, so z * z is exact and
    // -ax^2 = -z^2 + (z - ax)(z + ax) splits into an exact big part and a tiny correction.
    double z = Double.longBitsToDouble(Double.doubleToRawLongBits(ax) & 0xFFFFFFFF00000000L);
    return Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + tailFit(ax)) / ax;
  }

  /**
   * erf(x) for float, within about half an ulp of the exact value (it rounds a double result once),
   * with the same special values and odd symmetry as the double version.
   */
  static float erf(float x) {
    double d = x;
    double ad = Math.abs(d);
    if (ad < 0.84375) {
      // In double, x * x cannot underflow for any float x, so unlike s_erff.c no tiny-|x| branch is
      // needed: at x = +-0 this gives x + x * F_PP0, which keeps the sign of zero.
      double z = d * d;
      double r = F_PP0 + z * (F_PP1 + z * F_PP2);
      double s = 1 + z * (F_QQ1 + z * (F_QQ2 + z * F_QQ3));
      return (float) (d + d * (r / s));
    }
    if (ad < 1.25) {
      double s = ad - 1;
      double p = F_PA0 + s * (F_PA1 + s * (F_PA2 + s * F_PA3));
      double q = 1 + s * (F_QA1 + s * (F_QA2 + s * F_QA3));
      double v = F_ERX + p / q;
      return (float) (x > 0 ? v : -v);
    }
    if (!(ad < 4)) {
      // erfc(4) < 2^-25, half an ulp below 1f, so erf rounds to +-1; NaN also lands here.
      return Float.isNaN(x) ? x : Math.copySign(1.0f, x);
    }
    double t = ad * ad;
    // Computed early, this division overlaps the polynomials instead of ending the chain.
    double inv = 1 / ad;
    double r;
    double q;
    // s_erff.c evaluates ra(s)/sa(s) at s = 1/x^2. Multiplied through by x^6 the same ratio is a
    // pair of polynomials in t = x^2, which drops the reciprocal from the chain. Neither cancels
    // (ra's and sa's terms each share a sign, and t^3 dominates sb), so in double the rounding
    // stays far below a float ulp.
    if (ad < F_RA_LIMIT) {
      r = F_RA3 + t * (F_RA2 + t * (F_RA1 + t * F_RA0));
      q = F_SA3 + t * (F_SA2 + t * (F_SA1 + t));
    } else {
      r = t * (F_RB2 + t * (F_RB1 + t * F_RB0));
      q = F_SB3 + t * (F_SB2 + t * (F_SB1 + t));
    }
    // No exact-square split as in erfcTail: in double, rounding the exponent shifts the result by
    // at most about 2^-52 * 17 relative, far below a float ulp.
    double c = Math.exp(-t - 0.5625 + r / q) * inv;
    return (float) (x > 0 ? 1 - c : c - 1);
  }
}
