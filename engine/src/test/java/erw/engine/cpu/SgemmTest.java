package erw.engine.cpu;

import erw.engine.Precision;
import erw.engine.host.WorkerPool;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Sgemm} against a double-precision reference, for every transpose combination, edge sizes
 * around the micro-tile and cache-block sizes, accumulate or not, non-zero offsets; and bit-identical
 * results whatever the number of threads.
 *
 * <p>Tolerance: each element is a sum of k products accumulated in float, so its error is at most
 * about {@code k u (|c0| + sum_p |a_ip b_pj|)} with {@code u = 2^-24}; the test allows
 * {@code (k + 2) 2^-23 (|c0| + sum_p |a_ip b_pj|) + 1e-30}, twice that bound.
 */
class SgemmTest {
    private static WorkerPool pool1, pool2, pool3;

    @BeforeAll
    static void pools() {
        pool1 = new WorkerPool(1);
        pool2 = new WorkerPool(2);
        pool3 = new WorkerPool(3);
    }

    @AfterAll
    static void close() {
        pool1.close();
        pool2.close();
        pool3.close();
    }

    private static final float SENTINEL = Float.NaN;

    /** Operands laid out at offsets inside larger arrays whose other elements are NaN. */
    private record Problem(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff, float[] b,
                           int bOff, float[] c, int cOff, float[] c0) {}

    private static Problem problem(SplittableRandom rnd, boolean transA, boolean transB, int m, int n, int k,
                                   boolean offsets) {
        int aOff = offsets ? 1 + rnd.nextInt(7) : 0, bOff = offsets ? 1 + rnd.nextInt(7) : 0;
        int cOff = offsets ? 1 + rnd.nextInt(7) : 0;
        float[] a = new float[aOff + m * k + 5], b = new float[bOff + k * n + 5], c = new float[cOff + m * n + 5];
        java.util.Arrays.fill(a, SENTINEL);
        java.util.Arrays.fill(b, SENTINEL);
        java.util.Arrays.fill(c, SENTINEL);
        for (int i = 0; i < m * k; i++) a[aOff + i] = (float) (2 * rnd.nextDouble() - 1);
        for (int i = 0; i < k * n; i++) b[bOff + i] = (float) (2 * rnd.nextDouble() - 1);
        for (int i = 0; i < m * n; i++) c[cOff + i] = (float) (2 * rnd.nextDouble() - 1);
        return new Problem(transA, transB, m, n, k, a, aOff, b, bOff, c, cOff, c.clone());
    }

    private static float[] run(WorkerPool pool, Problem p, boolean accumulate) {
        float[] c = p.c0().clone();
        Sgemm.gemm(pool, p.transA(), p.transB(), p.m(), p.n(), p.k(), p.a(), p.aOff(), p.b(), p.bOff(), c, p.cOff(),
                accumulate);
        return c;
    }

    private static void check(Problem p, boolean accumulate, float[] c) {
        int m = p.m(), n = p.n(), k = p.k();
        String what = (p.transA() ? "T" : "N") + (p.transB() ? "T" : "N") + " " + m + "x" + n + "x" + k
                + (accumulate ? " accumulate" : "");
        for (int i = 0; i < c.length; i++) {
            boolean inside = i >= p.cOff() && i < p.cOff() + m * n;
            if (!inside && !Float.isNaN(c[i])) fail(what + ": wrote outside C at " + i);
        }
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double c0 = accumulate ? p.c0()[p.cOff() + i * n + j] : 0;
                double sum = c0, mag = Math.abs(c0);
                for (int q = 0; q < k; q++) {
                    double av = p.transA() ? p.a()[p.aOff() + q * m + i] : p.a()[p.aOff() + i * k + q];
                    double bv = p.transB() ? p.b()[p.bOff() + j * k + q] : p.b()[p.bOff() + q * n + j];
                    sum += av * bv;
                    mag += Math.abs(av * bv);
                }
                double got = c[p.cOff() + i * n + j];
                double tol = (k + 2) * 0x1p-23 * mag + 1e-30;
                if (!(Math.abs(got - sum) <= tol)) {
                    fail(what + ": C[" + i + "][" + j + "] = " + got + ", expected " + sum + " +- " + tol);
                }
            }
        }
    }

    @Test
    void matchesReferenceOnEdgeSizes() {
        SplittableRandom rnd = new SplittableRandom(42);
        int[] dims = {1, 3, 17, 33, 65, 130};
        for (int t = 0; t < 4; t++) {
            boolean transA = (t & 1) != 0, transB = (t & 2) != 0;
            for (int m : dims) {
                for (int n : dims) {
                    for (int k : dims) {
                        boolean accumulate = rnd.nextBoolean();
                        Problem p = problem(rnd, transA, transB, m, n, k, rnd.nextBoolean());
                        check(p, accumulate, run(pool2, p, accumulate));
                    }
                }
            }
        }
    }

    @Test
    void matchesReferenceAcrossCacheBlocks() {
        SplittableRandom rnd = new SplittableRandom(7);
        // k past the k block (several, with a remainder), n past the column block, tiles of 4 and 12 rows,
        // 1- and 2-vector column edges, a short-and-wide C (split by columns), tiny and k = 1 shapes
        int[][] shapes = {
            {29, 2053, 390}, {100, 47, 1000}, {4, 6, 3}, {1, 1, 1}, {5, 700, 50}, {37, 9, 1}, {16, 16, 800},
            {13, 48, 64}, {64, 33, 385}
        };
        for (int[] s : shapes) {
            for (int t = 0; t < 4; t++) {
                boolean transA = (t & 1) != 0, transB = (t & 2) != 0;
                for (boolean accumulate : new boolean[] {false, true}) {
                    Problem p = problem(rnd, transA, transB, s[0], s[1], s[2], true);
                    check(p, accumulate, run(pool2, p, accumulate));
                }
            }
        }
    }

    /**
     * The header's guarantee, exactly: every element is one float chain of fused multiply-adds in
     * increasing p from +0, the old C, or the bias, whatever kernel, tile or k block computes it.
     */
    @Test
    void everyElementIsOneFmaChain() {
        SplittableRandom rnd = new SplittableRandom(11);
        // {29, 2060, 390}: several column and k blocks (k blocks outside, A packed once: Sgemm.REUSE_A)
        int[][] shapes = {{29, 70, 390}, {12, 32, 800}, {4, 16, 5}, {40, 1, 3}, {130, 33, 1}, {29, 2060, 390}};
        for (int[] s : shapes) {
            for (int t = 0; t < 4; t++) {
                boolean transA = (t & 1) != 0, transB = (t & 2) != 0;
                for (int mode = 0; mode < 3; mode++) { // overwrite, accumulate, bias
                    Problem p = problem(rnd, transA, transB, s[0], s[1], s[2], true);
                    int m = p.m(), n = p.n(), k = p.k();
                    float[] bias = new float[n + 3];
                    for (int j = 0; j < bias.length; j++) bias[j] = (float) (2 * rnd.nextDouble() - 1);
                    float[] c = p.c0().clone();
                    Sgemm.gemm(pool2, transA, transB, m, n, k, p.a(), p.aOff(), p.b(), p.bOff(), c, p.cOff(), mode == 1,
                            mode == 2 ? bias : null, 2);
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            float e = mode == 1 ? p.c0()[p.cOff() + i * n + j] : mode == 2 ? bias[2 + j] : 0f;
                            for (int q = 0; q < k; q++) {
                                float av = transA ? p.a()[p.aOff() + q * m + i] : p.a()[p.aOff() + i * k + q];
                                float bv = transB ? p.b()[p.bOff() + j * k + q] : p.b()[p.bOff() + q * n + j];
                                e = Math.fma(av, bv, e);
                            }
                            float got = c[p.cOff() + i * n + j];
                            if (Float.floatToRawIntBits(got) != Float.floatToRawIntBits(e)) {
                                fail((transA ? "T" : "N") + (transB ? "T" : "N") + " " + m + "x" + n + "x" + k + " mode " + mode
                                        + ": C[" + i + "][" + j + "] = " + got + ", the fma chain gives " + e);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void bitIdenticalAcrossThreadCounts() {
        SplittableRandom rnd = new SplittableRandom(3);
        // split by rows, split by columns, rows with a 4-row edge tile and more than one k block
        int[][] shapes = {{300, 200, 500}, {8, 1000, 300}, {124, 77, 450}, {300, 2060, 400}};
        for (int[] s : shapes) {
            for (int t = 0; t < 4; t++) {
                boolean transA = (t & 1) != 0, transB = (t & 2) != 0;
                for (boolean accumulate : new boolean[] {false, true}) {
                    Problem p = problem(rnd, transA, transB, s[0], s[1], s[2], true);
                    float[] one = run(pool1, p, accumulate);
                    assertArrayEquals(one, run(pool2, p, accumulate), "2 threads");
                    assertArrayEquals(one, run(pool3, p, accumulate), "3 threads");
                }
            }
        }
        // and correct
        Problem p = problem(rnd, true, false, 300, 200, 500, false);
        check(p, true, run(pool2, p, true));
    }

    /**
     * A TF32 or BF16 GEMM is the fp32 GEMM of the rounded operands, bit for bit, for every layout, thread count and
     * shape (edge tiles, several k and column blocks, bias); and the rounding does change the result (it is applied).
     */
    @Test
    void reducedPrecisionIsTheFp32GemmOfTheRoundedOperands() {
        SplittableRandom rnd = new SplittableRandom(11);
        int[][] shapes = {{300, 200, 500}, {8, 1000, 300}, {13, 37, 5}, {124, 77, 450}, {29, 2060, 390}};
        for (Precision pr : new Precision[] {Precision.TF32, Precision.BF16}) {
            for (int[] s : shapes) {
                for (int t = 0; t < 4; t++) {
                    boolean transA = (t & 1) != 0, transB = (t & 2) != 0;
                    Problem p = problem(rnd, transA, transB, s[0], s[1], s[2], true);
                    float[] bias = new float[s[1]];
                    for (int j = 0; j < bias.length; j++) bias[j] = (float) rnd.nextDouble();
                    float[] ar = p.a().clone(), br = p.b().clone();
                    for (int i = 0; i < ar.length; i++) ar[i] = pr.round(ar[i]);
                    for (int i = 0; i < br.length; i++) br[i] = pr.round(br[i]);
                    for (boolean withBias : new boolean[] {false, true}) {
                        float[] want = p.c0().clone(), exact = p.c0().clone();
                        Sgemm.gemm(pool1, Precision.FP32, transA, transB, p.m(), p.n(), p.k(), ar, p.aOff(), br, p.bOff(), want, p.cOff(), !withBias,
                                withBias ? bias : null, 0);
                        Sgemm.gemm(pool1, Precision.FP32, transA, transB, p.m(), p.n(), p.k(), p.a(), p.aOff(), p.b(), p.bOff(), exact, p.cOff(), !withBias,
                                withBias ? bias : null, 0);
                        for (WorkerPool pool : new WorkerPool[] {pool1, pool2, pool3}) {
                            float[] got = p.c0().clone();
                            Sgemm.gemm(pool, pr, transA, transB, p.m(), p.n(), p.k(), p.a(), p.aOff(), p.b(), p.bOff(), got, p.cOff(), !withBias,
                                    withBias ? bias : null, 0);
                            assertArrayEquals(want, got, pr + " " + s[0] + "x" + s[1] + "x" + s[2] + " t" + t + " threads " + pool.threads());
                        }
                        assertTrue(!java.util.Arrays.equals(want, exact), pr + ": the rounding changed nothing");
                    }
                    assertArrayEquals(p.a(), p.a().clone()); // operands untouched (rounded only in the packed copies)
                    for (int i = 0; i < p.m() * p.k(); i++) {
                        if (p.a()[p.aOff() + i] != pr.round(p.a()[p.aOff() + i])) return; // some element was not representable: the check above meant something
                    }
                    fail("every operand element was already representable in " + pr);
                }
            }
        }
    }

    /** The vectorized rounding of packed panels agrees with {@link Precision#roundBits} on every kind of value. */
    @Test
    void panelRoundingMatchesTheScalarRounding() {
        SplittableRandom rnd = new SplittableRandom(5);
        int n = 4099;
        float[] x = new float[n];
        int[] special = {0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffbfffff, 0x7f7fffff, 0xff7fffff, 0x00000001,
                0x007fffff, 0x3f808000, 0x3f818000, 0x3f808001, 0x3f800fff, 0x3f801000, 0x3f803000, 0x7f7f8000};
        for (int i = 0; i < n; i++) {
            x[i] = Float.intBitsToFloat(i < special.length ? special[i] : i % 3 == 0 ? rnd.nextInt() : Float.floatToRawIntBits((float) rnd.nextGaussian()));
        }
        for (Precision pr : new Precision[] {Precision.TF32, Precision.BF16}) {
            float[] v = x.clone();
            Sgemm.round(v, 3, n - 3, pr.droppedBits());
            for (int i = 0; i < n; i++) {
                int want = i < 3 ? Float.floatToRawIntBits(x[i]) : Precision.roundBits(Float.floatToRawIntBits(x[i]), pr.droppedBits());
                assertEquals(want, Float.floatToRawIntBits(v[i]), pr + " element " + i + " = " + Integer.toHexString(Float.floatToRawIntBits(x[i])));
            }
        }
    }

    @Test
    void biasInitIsBitIdenticalToFillingCAndAccumulating() {
        SplittableRandom rnd = new SplittableRandom(11);
        // full tiles, 4-row and 1-vector edges, several k blocks; serial and both splits
        int[][] shapes = {{24, 64, 20}, {13, 33, 400}, {100, 70, 9}, {300, 96, 800}, {7, 200, 50}};
        for (int[] sh : shapes) {
            for (boolean ta : new boolean[]{false, true}) {
                for (WorkerPool pool : new WorkerPool[]{pool1, pool2, pool3}) {
                    Problem p = problem(rnd, ta, !ta, sh[0], sh[1], sh[2], true);
                    int bo = 3;
                    float[] bias = new float[bo + sh[1] + 2];
                    java.util.Arrays.fill(bias, SENTINEL);
                    for (int j = 0; j < sh[1]; j++) bias[bo + j] = (float) (2 * rnd.nextDouble() - 1);
                    float[] expected = p.c0().clone();
                    for (int i = 0; i < sh[0]; i++) System.arraycopy(bias, bo, expected, p.cOff() + i * sh[1], sh[1]);
                    Sgemm.gemm(pool, p.transA(), p.transB(), p.m(), p.n(), p.k(), p.a(), p.aOff(), p.b(), p.bOff(), expected, p.cOff(), true);
                    float[] got = p.c0().clone();
                    Sgemm.gemm(pool, p.transA(), p.transB(), p.m(), p.n(), p.k(), p.a(), p.aOff(), p.b(), p.bOff(), got, p.cOff(), false, bias, bo);
                    for (int i = 0; i < got.length; i++) {
                        assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(got[i]),
                                "bias GEMM " + java.util.Arrays.toString(sh) + " transA " + ta + " threads " + pool.threads() + " at " + i);
                    }
                }
            }
        }
    }

    @Test
    void emptyReductionZeroesOrKeeps() {
        float[] c = {1, 2, 3, 4, 5, 6, 7};
        Sgemm.gemm(pool2, false, false, 2, 3, 0, new float[0], 0, new float[0], 0, c, 1, true);
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7}, c);
        Sgemm.gemm(pool2, false, true, 2, 3, 0, new float[0], 0, new float[0], 0, c, 1, false);
        assertArrayEquals(new float[] {1, 0, 0, 0, 0, 0, 0}, c);
    }

    @Test
    void benchmarkReportsAndParses() {
        List<GemmBenchmark.Result> r = GemmBenchmark.run(pool2, List.of(new int[] {40, 50, 60}), 2);
        assertEquals(1, r.size());
        assertEquals(40, r.get(0).m());
        assertTrue(r.get(0).gflops() > 0 && r.get(0).bestSeconds() > 0);
        String out = "noise\n{\"shape\": \"8x8x8\", \"gflops\": 1.5}\n{\"shape\":\"2048x2048x2048\",\"gflops\":183.2,\"s\":0.09}\n";
        assertEquals(183.2, GemmBenchmark.parseGflops(out, "2048x2048x2048"));
        assertEquals(1.5, GemmBenchmark.parseGflops(out, "8x8x8"));
        assertNull(GemmBenchmark.parseGflops(out, "1x1x1"));
        assertNull(GemmBenchmark.parseGflops("Traceback: no module named numpy", "1x1x1"));
    }

    @Test
    void benchmarkRoundsSummarize() {
        assertEquals(2.0, GemmBenchmark.median(new double[] {3, 1, 2}));
        assertEquals(2.5, GemmBenchmark.median(new double[] {4, 1, 3, 2}));
        assertTrue(Double.isNaN(GemmBenchmark.median(new double[0])));
        // a round whose peer did not run (NaN) has no ratio; the others are erw / peer in order
        assertArrayEquals(new double[] {0.5, 2.0}, GemmBenchmark.ratios(new double[] {1, 5, 4}, new double[] {2, Double.NaN, 2}));
        assertEquals("0.50-2.00", GemmBenchmark.span(new double[] {2.0, 0.5, 1.0}));
        assertEquals("", GemmBenchmark.span(new double[0]));
        // the middle half, interpolated as numpy's quantile: 1..5 -> 2 and 4; 1..4 -> 1.75 and 3.25
        assertEquals("2.00-4.00", GemmBenchmark.quartiles(new double[] {5, 1, 4, 2, 3}));
        assertEquals("1.75-3.25", GemmBenchmark.quartiles(new double[] {4, 3, 2, 1}));
        assertEquals("0.90-0.90", GemmBenchmark.quartiles(new double[] {0.9}));
        assertEquals("", GemmBenchmark.quartiles(new double[0]));
    }

    /** bench gemm --anatomy: the FMA peak, the kernel alone and the GEMM, each positive, with their shares within the rounds. */
    @Test
    void anatomyMeasuresThePeakTheKernelAndTheGemm() {
        GemmBenchmark.Anatomy a = GemmBenchmark.anatomy(pool2, new int[] {96, 64, 48}, 1);
        assertTrue(a.fmas() > 0 && a.kernel() > 0 && a.gemm() > 0, a.toString());
        assertEquals(a.kernel() / a.fmas(), a.kernelShare(), 1e-9, "one round: the share is the figures' ratio");
        assertEquals(a.gemm() / a.kernel(), a.gemmShare(), 1e-9);
        // the sweep leaves its C finite: kernelSweep's operands are zeros, so C stays exactly zero
        int[] sz = Sgemm.kernelSweepSizes(Sgemm.NC);
        float[] c = new float[sz[2]];
        long flops = Sgemm.kernelSweep(new float[sz[0]], new float[sz[1]], c, Sgemm.NC);
        assertEquals(2L * Sgemm.MC * Sgemm.NC * Sgemm.KC, flops);
        for (float v : c) assertEquals(0f, v);
    }

    /** The kept-running peer's protocol: a request a line on stdin, a JSON line back; a peer that dies answers null. */
    @Test
    void peerServerAnswersEachRequest(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/bin/python3")), "no /usr/bin/python3");
        java.nio.file.Path script = dir.resolve("fake_peer.py");
        java.nio.file.Files.writeString(script, String.join("\n",
                "import json, os, sys",
                "assert sys.argv[1:] == ['--serve'], sys.argv",
                "assert os.environ['OPENBLAS_NUM_THREADS'] == '2' and os.environ.get('OPENBLAS_CORETYPE') == 'SKYLAKEX', os.environ",
                "for line in sys.stdin:",
                "    shape, reps = line.split()",
                "    if shape == '9x9x9': sys.exit(3)",
                "    m, n, k = map(int, shape.split('x'))",
                "    print(json.dumps({'shape': shape, 'gflops': m + int(reps) / 10}), flush=True)", ""));
        String old = System.getProperty("erw.bench.numpyScript");
        System.setProperty("erw.bench.numpyScript", script.toString());
        try (GemmBenchmark.PeerServer peer = GemmBenchmark.PeerServer.start(2, new GemmBenchmark.Peer(1, "OPENBLAS_CORETYPE=SKYLAKEX", 1))) {
            assertNotNull(peer);
            assertEquals(64.3, peer.gflops(64, 8, 8, 3));
            assertEquals(128.5, peer.gflops(128, 4, 4, 5));
            assertNull(peer.gflops(9, 9, 9, 1), "the peer exited");
        } finally {
            if (old == null) System.clearProperty("erw.bench.numpyScript");
            else System.setProperty("erw.bench.numpyScript", old);
        }
        System.setProperty("erw.bench.numpyScript", dir.resolve("missing.py").toString());
        try {
            assertNull(GemmBenchmark.PeerServer.start(2, null), "no script, no peer");
        } finally {
            if (old == null) System.clearProperty("erw.bench.numpyScript");
            else System.setProperty("erw.bench.numpyScript", old);
        }
    }

    @Test
    void columnBlockFollowsTheMachine() {
        int nr = Sgemm.panelWidth();
        assertEquals(2048, Sgemm.defaultNc("AuthenticAMD", 1L << 20));
        assertEquals(2048, Sgemm.defaultNc("GenuineIntel", 0));
        // the B block (KC x NC floats) sized to 9/16 of a 2 MiB L2, in whole panels: 768 with KC 384
        long fit = (2L << 20) * 9 / 16 / (4L * Sgemm.KC) / nr * nr;
        assertEquals((int) Math.min(2048, fit), Sgemm.defaultNc("GenuineIntel", 2L << 20));
        if (Sgemm.KC == 384 && nr == 32) assertEquals(768, Sgemm.defaultNc("GenuineIntel", 2L << 20));
        assertEquals(4 * nr, Sgemm.defaultNc("GenuineIntel", 64 * 1024), "at least four panels");
        assertEquals(2048, Sgemm.defaultNc("GenuineIntel", 64L << 20), "at most 2048");
        assertTrue(Sgemm.describe().contains("KC " + Sgemm.KC));
    }

    @Test
    void reportsWhetherC2MayParkGeneralValuesInVectorRegisters() {
        // the test JVM runs with HotSpot's default for this CPU; whichever it is, describe() names it
        String flag = Sgemm.fpuSpilling(), line = Sgemm.describe();
        assertTrue(flag.equals("true") || flag.equals("false"), "HotSpot has UseFPUForSpilling: " + flag);
        assertTrue(line.endsWith(flag.equals("true") ? "./erw turns it off)" : "C2 spills no GPR to vector registers"), line);
    }

    @Test
    void packedPanelsStartAtACacheLine() {
        assertEquals(0, Sgemm.lineOffset(0L));
        assertEquals(12, Sgemm.lineOffset(16L));
        assertEquals(1, Sgemm.lineOffset(60L));
        assertEquals(15, Sgemm.lineOffset(4L));
        assertEquals(0, Sgemm.lineOffset(1L << 40));
        int off = Sgemm.lineOffset(new float[100]);
        assertTrue(off >= 0 && off < 16);
        // the build's main run grants erw.engine native access (panels aligned), its second run does not
        // (panels from 0); both run every test of this class
        String expect = System.getProperty("erw.test.alignedPanels");
        if (expect != null) assertEquals(Boolean.parseBoolean(expect), Sgemm.alignsPanels());
    }

    @Test
    void peerConfigurationBecomesAnEnvironment() {
        assertEquals(java.util.Map.of(), new GemmBenchmark.Peer(1, "as installed", 1).environment());
        // the search's figures: the configurations within 10% of the best are timed in every round, the best first
        String line = "{\"shape\": \"8x8x8\", \"gflops\": 232.7, \"config\": \"OPENBLAS_CORETYPE=COOPERLAKE\", \"default_gflops\": 32.5, "
                + "\"tried\": {\"as installed\": 32.47, \"OPENBLAS_CORETYPE=HASWELL\": 82.56, \"OPENBLAS_CORETYPE=SKYLAKEX\": 218.06, "
                + "\"OPENBLAS_CORETYPE=COOPERLAKE\": 232.7}}";
        java.util.Map<String, Double> tried = GemmBenchmark.tried(line);
        assertEquals(List.of("as installed", "OPENBLAS_CORETYPE=HASWELL", "OPENBLAS_CORETYPE=SKYLAKEX", "OPENBLAS_CORETYPE=COOPERLAKE"), List.copyOf(tried.keySet()));
        assertEquals(82.56, tried.get("OPENBLAS_CORETYPE=HASWELL"));
        List<GemmBenchmark.Peer> near = GemmBenchmark.contenders(new GemmBenchmark.Peer(232.7, "OPENBLAS_CORETYPE=COOPERLAKE", 32.5, tried), 0.10);
        assertEquals(List.of("OPENBLAS_CORETYPE=COOPERLAKE", "OPENBLAS_CORETYPE=SKYLAKEX"), near.stream().map(GemmBenchmark.Peer::config).toList());
        assertEquals(1, GemmBenchmark.contenders(new GemmBenchmark.Peer(232.7, "OPENBLAS_CORETYPE=COOPERLAKE", 32.5, tried), 0.05).size());
        assertEquals(1, GemmBenchmark.contenders(new GemmBenchmark.Peer(1, "as installed", 1), 0.5).size());
        assertTrue(GemmBenchmark.tried("{\"gflops\": 1}").isEmpty());
        assertEquals(java.util.Map.of("OPENBLAS_CORETYPE", "SKYLAKEX"), new GemmBenchmark.Peer(1, "OPENBLAS_CORETYPE=SKYLAKEX", 1).environment());
        assertEquals(java.util.Map.of("LD_LIBRARY_PATH", "/usr/lib/x86_64-linux-gnu/openblas-pthread", "OPENBLAS_CORETYPE", "HASWELL"),
                new GemmBenchmark.Peer(1, "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_CORETYPE=HASWELL", 1).environment());
    }
}
