/**
 * Secure aggregation: the server (the Spark driver) learns the sum of the clients' (executors')
 * updates and nothing else about any single update, even when some clients drop out mid-round.
 *
 * <p>This is the semi-honest protocol with dropout recovery of Bonawitz, Ivanov, Kreuter,
 * Marcedone, McMahan, Patel, Ramage, Segal and Seth, "Practical Secure Aggregation for
 * Privacy-Preserving Machine Learning" (CCS 2017), section 4 and figure 4 without the consistency
 * check round (which only the actively secure variant needs), simulated in-process: its messages
 * ({@link org.emberdl.federated.secagg.Messages}) are plain serializable objects that a driver
 * carries as broadcasts and task results, one job per round.
 *
 * <h2>The protocol</h2>
 *
 * Parameters ({@link org.emberdl.federated.secagg.SecureAggregationParameters}): a fresh session
 * id, the threshold {@code t}, the vector length and the {@link
 * org.emberdl.federated.secagg.FixedPointCodec} that maps floats into the ring {@code Z_(2^64)}.
 *
 * <ol>
 *   <li><b>Advertise keys.</b> Each client {@code i} generates two fresh X25519 key pairs, a
 *       channel pair {@code (c_i, C_i)} and a mask pair {@code (s_i, S_i)}, and sends both public
 *       keys. The server sends the list {@code U1} of all to everyone ({@link
 *       org.emberdl.federated.secagg.Messages.KeyDirectory}).
 *   <li><b>Share keys.</b> Each client draws a 32-byte self-mask seed {@code b_i}, splits {@code
 *       s_i} and {@code b_i} into {@code t}-of-{@code |U1|} Shamir shares ({@link
 *       org.emberdl.federated.secagg.Shamir}, over {@code GF(2^521 - 1)}), and encrypts client
 *       {@code j}'s two shares with AES-256-GCM under {@code HKDF(X25519(c_i, C_j))}; it also sends
 *       the server a commitment {@code HKDF(b_i)} to its seed. The server routes the ciphertexts;
 *       the senders are {@code U2}.
 *   <li><b>Masked input.</b> Client {@code i} encodes its update {@code x_i} (plus its share of
 *       {@linkplain org.emberdl.federated.secagg.DistributedGaussianNoise distributed DP noise}, if
 *       any) and sends {@code y_i = x_i + PRG(b_i) + sum_{j in U2, j > i} PRG(s_ij) - sum_{j in U2,
 *       j < i} PRG(s_ij)} (mod {@code 2^64}), where {@code s_ij = HKDF(X25519(s_i, S_j))} is the
 *       same for {@code i} and {@code j}, and PRG is the AES-256-CTR keystream. The senders are
 *       {@code U3}.
 *   <li><b>Unmasking.</b> The server announces {@code U3}; each survivor sends its shares of {@code
 *       b_j} for {@code j} in {@code U3} and of {@code s_j} for {@code j} in {@code U2 \ U3} (never
 *       both for one client). From {@code t} shares each, the server rebuilds the seeds and the
 *       dropped clients' keys, and checks them against the commitments and the advertised public
 *       keys (inconsistent shares fail loudly); in {@code sum_{i in U3} y_i} the pairwise masks
 *       between survivors cancel, and it subtracts the self masks and the survivors' pairwise masks
 *       with dropped clients, leaving {@code sum_{i in U3} x_i} exactly (in the ring).
 * </ol>
 *
 * The key derivations and their HKDF info strings are listed in {@code Hkdf}; the encoding, its
 * range and its error bound in {@link org.emberdl.federated.secagg.FixedPointCodec}.
 *
 * <h2>Threat model</h2>
 *
 * <b>Semi-honest (honest-but-curious):</b> every party, the server included, follows the protocol
 * and only tries to learn from what it sees. Under that assumption, with the PRG, HKDF, X25519 (the
 * gap Diffie-Hellman assumption) and AES-GCM secure:
 *
 * <ul>
 *   <li><b>The server (driver)</b> learns the round's client lists {@code U1} to {@code U3}, each
 *       client's public keys and seed commitment, ciphertexts it cannot open, the masked inputs,
 *       which are uniformly random ring vectors, and finally {@code sum_{i in U3} x_i}; hence
 *       nothing about a single update beyond what the sum (and the set of contributors) reveals. It
 *       learns the seeds {@code b_i} of survivors and the keys {@code s_j} of dropped clients,
 *       never both for one client; so the masked input of a client declared dropped that arrives
 *       late is still hidden by its self mask, which nobody reveals.
 *   <li><b>A client (executor)</b> learns the public keys, its own shares of the others' secrets
 *       (fewer than {@code t} of them say nothing) and, through {@link
 *       org.emberdl.federated.secagg.Messages.UnmaskRequest}, who dropped; not the sum, nor any
 *       other client's input.
 *   <li><b>A network observer</b> who sees all traffic sees what the server sees, and can compute
 *       the sum as the server does (the unmasking shares travel to the server in the clear), but no
 *       single update. An encrypted transport (Spark's RPC with {@code
 *       spark.network.crypto.enabled}) hides even the sum; it should be on anyway, since this
 *       package does not authenticate the parties to each other.
 *   <li><b>The server together with fewer than {@code t} clients</b> learns, about the honest
 *       clients' inputs, only the sum of the honest survivors' inputs (Bonawitz et al., section 6
 *       for the honest-but-curious setting): the colluders hold fewer than {@code t} shares of any
 *       honest secret. A coalition of {@code t} or more clients with the server can unmask anyone.
 * </ul>
 *
 * <b>Not protected:</b>
 *
 * <ul>
 *   <li>A <em>malicious</em> server: it could announce different key lists to different clients (or
 *       its own keys in someone's place, with no PKI to authenticate clients), or tell some clients
 *       that client {@code j} dropped and others that it survived, and so obtain both {@code b_j}
 *       and {@code s_j}. The actively secure variant of the paper needs signatures, a PKI and the
 *       consistency-check round; none is implemented.
 *   <li>Malicious clients: a client can send any value in range (no input validation, no proof of
 *       clipping), corrupt its shares (the server's reconstruction then fails loudly, and the round
 *       is lost), or send a masked input and withhold its shares. Robustness against poisoning is
 *       not a goal.
 *   <li>What the sum itself reveals: with few survivors, or all but one colluding, the sum can
 *       expose an individual update. Distributed DP noise bounds that leak; the threshold alone
 *       does not. The number of contributors and who they are is public.
 *   <li>A client that sends two different masked inputs in one session reveals their difference;
 *       clients refuse to mask twice, but a retried task on a fresh client object with the same
 *       session would not know. Session ids must never be reused, and a task retry must either
 *       replay the stored message or count as a dropout.
 *   <li>Side channels, memory disclosure on the executors, and the quality of {@link
 *       java.security.SecureRandom} are out of scope.
 * </ul>
 */
package org.emberdl.federated.secagg;
