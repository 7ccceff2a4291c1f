package erw.sampler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Known answers: with the exact velocity of a Gaussian (or Gaussian-mixture) data law, the
 * samplers must reproduce its mean and variance. For the Gaussian the sampler is an affine
 * Gaussian recursion, so the moments of the discretized chain are also computed exactly (in
 * double) and the samples are checked against them within sampling error, and the chain's
 * moments against the data law within a stated discretization slack.
 */
class GaussianSamplerTest {
    static final int M = 4000;
    static final double Z = 4.5; // standard errors allowed
    static final GaussianFields.Diagonal G = new GaussianFields.Diagonal(new double[]{0.5, -1.0, 2.0, 0.0}, new double[]{1.0, 0.5, 0.3, 1.5});

    /** Per-dimension sample mean and (unbiased) variance of M samples of d dims. */
    static double[][] moments(float[] x, int d) {
        int m = x.length / d;
        double[] mean = new double[d], var = new double[d];
        for (int i = 0; i < x.length; i++) mean[i % d] += x[i];
        for (int j = 0; j < d; j++) mean[j] /= m;
        for (int i = 0; i < x.length; i++) {
            double r = x[i] - mean[i % d];
            var[i % d] += r * r;
        }
        for (int j = 0; j < d; j++) var[j] /= m - 1;
        return new double[][]{mean, var};
    }

    /** The exact mean and variance after the discretized chain, starting from N(0, 1): propagate x' = A x + B + sigma e. */
    static double[] chainMoments(GaussianFields.Diagonal g, int j, SamplerKind kind, int steps) {
        double[] grid = Sampler.timeGrid(kind, steps);
        double mean = 0, var = 1;
        for (int i = 0; i < steps; i++) {
            double t = grid[i], tn = grid[i + 1], dt = tn - t;
            boolean last = i == steps - 1;
            double A, B, noiseVar = 0;
            double a = g.a(j, t), b = g.b(j, t);
            switch (kind) {
                case SDE -> {
                    // d = v - t * score, score = -(x + (1-t) v)/t  =>  d = x + (2 - t) v
                    A = 1 + dt * (1 + (2 - t) * a);
                    B = dt * (2 - t) * b;
                    if (!last) noiseVar = 2 * t * Math.abs(dt);
                }
                case ODE -> {
                    A = 1 + dt * a;
                    B = dt * b;
                }
                default -> {
                    if (last) {
                        A = 1 + dt * a;
                        B = dt * b;
                    } else {
                        double an = g.a(j, tn), bn = g.b(j, tn);
                        // x~ = x + dt (a x + b); x' = x + dt/2 (a x + b + an x~ + bn)
                        double At = 1 + dt * a, Bt = dt * b;
                        A = 1 + 0.5 * dt * (a + an * At);
                        B = 0.5 * dt * (b + an * Bt + bn);
                    }
                }
            }
            mean = A * mean + B;
            var = A * A * var + noiseVar;
        }
        return new double[]{mean, var};
    }

    static float[] draw(VelocityField f, int d, SamplerKind kind, int steps, long seed) {
        Sampler s = new Sampler(f, d, Sampler.Options.of(kind, steps, seed));
        return s.sample(new float[M], 0, null);
    }

    private void checkGaussian(SamplerKind kind, int steps, double slack) {
        int d = G.dims();
        float[] x = draw(G, d, kind, steps, 11);
        double[][] mv = moments(x, d);
        for (int j = 0; j < d; j++) {
            double[] chain = chainMoments(G, j, kind, steps);
            double trueMean = G.mu()[j], trueVar = G.s()[j] * G.s()[j];
            double seMean = Math.sqrt(chain[1] / M), seVar = chain[1] * Math.sqrt(2.0 / (M - 1));
            String where = kind + " " + steps + " steps, dim " + j;
            // the implementation against the exact law of the discretized chain: sampling error only
            assertEquals(chain[0], mv[0][j], Z * seMean, where + ": sample mean vs chain mean");
            assertEquals(chain[1], mv[1][j], Z * seVar, where + ": sample variance vs chain variance");
            // the scheme against the data law: discretization slack
            assertEquals(trueMean, chain[0], slack, where + ": chain mean vs data mean");
            assertEquals(trueVar, chain[1], slack * Math.max(1, trueVar), where + ": chain variance vs data variance");
            // and so the samples against the data law
            assertEquals(trueMean, mv[0][j], Z * seMean + slack, where + ": sample mean vs data mean");
            assertEquals(trueVar, mv[1][j], Z * seVar + slack * Math.max(1, trueVar), where + ": sample variance vs data variance");
        }
    }

    @Test
    void sdeMatchesGaussianData() {
        checkGaussian(SamplerKind.SDE, 250, 0.03);
    }

    @Test
    void odeEulerMatchesGaussianData() {
        checkGaussian(SamplerKind.ODE, 100, 0.03);
    }

    @Test
    void heunMatchesGaussianData() {
        checkGaussian(SamplerKind.HEUN, 50, 0.01);
    }

    @Test
    void sdeAndOdeAgree() {
        int d = G.dims();
        double[][] sde = moments(draw(G, d, SamplerKind.SDE, 250, 5), d);
        double[][] ode = moments(draw(G, d, SamplerKind.ODE, 100, 6), d);
        for (int j = 0; j < d; j++) {
            double v = G.s()[j] * G.s()[j];
            assertEquals(sde[0][j], ode[0][j], Z * Math.sqrt(2 * v / M) + 0.03, "mean, dim " + j);
            assertEquals(sde[1][j], ode[1][j], Z * v * Math.sqrt(4.0 / M) + 0.05 * Math.max(1, v), "variance, dim " + j);
        }
    }

    @Test
    void samplersRecoverAGaussianMixture() {
        GaussianFields.Mixture mix = new GaussianFields.Mixture(new double[]{0.3, 0.7}, new double[]{-1.5, 1.5}, new double[]{0.4, 0.4});
        double frac = 0.7; // mass above 0 (the tails beyond 0 are < 1e-4)
        int[][] runs = {{SamplerKind.SDE.ordinal(), 250}, {SamplerKind.ODE.ordinal(), 100}, {SamplerKind.HEUN.ordinal(), 50}};
        for (int[] r : runs) {
            SamplerKind kind = SamplerKind.values()[r[0]];
            float[] x = draw(mix, 1, kind, r[1], 3);
            double[][] mv = moments(x, 1);
            String where = kind + " " + r[1] + " steps";
            double var = mix.variance();
            assertEquals(mix.mean(), mv[0][0], Z * Math.sqrt(var / M) + 0.03, where + ": mean");
            assertEquals(var, mv[1][0], Z * var * Math.sqrt(2.0 / M) * 1.5 + 0.06, where + ": variance");
            int above = 0;
            double s1 = 0, s2 = 0;
            for (float v : x) {
                if (v > 0) {
                    above++;
                    s1 += v;
                    s2 += v * v;
                }
            }
            double p = (double) above / M;
            assertEquals(frac, p, Z * Math.sqrt(frac * (1 - frac) / M) + 0.01, where + ": weight of the right component");
            double m1 = s1 / above, sd = Math.sqrt(s2 / above - m1 * m1);
            assertEquals(1.5, m1, Z * 0.4 / Math.sqrt(above) + 0.03, where + ": right component mean");
            assertTrue(Math.abs(sd - 0.4) < 0.04, where + ": right component std " + sd + " vs 0.4");
        }
    }
}
