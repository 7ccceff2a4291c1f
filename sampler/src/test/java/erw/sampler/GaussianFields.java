package erw.sampler;

/** Closed-form velocities E[e - x0 | x_t = x] of the linear interpolant x_t = (1-t) x0 + t e for known data laws. */
final class GaussianFields {
    private GaussianFields() {}

    /** x0 ~ N(mu, diag(s^2)), one coordinate per dimension; v is affine in x: v = a(t) x + b(t). */
    record Diagonal(double[] mu, double[] s) implements VelocityField {
        int dims() {
            return mu.length;
        }

        double a(int j, double t) {
            double s2 = s[j] * s[j], var = (1 - t) * (1 - t) * s2 + t * t;
            return (t - (1 - t) * s2) / var;
        }

        double b(int j, double t) {
            return -a(j, t) * (1 - t) * mu[j] - mu[j];
        }

        double v(int j, double x, double t) {
            return a(j, t) * x + b(j, t);
        }

        @Override
        public void velocity(float[] x, double t, float[] labels, float[] out) {
            int d = mu.length;
            for (int i = 0; i < x.length; i++) out[i] = (float) v(i % d, x[i], t);
        }
    }

    /** One-dimensional mixture sum_k pi_k N(mu_k, s_k^2). */
    record Mixture(double[] pi, double[] mu, double[] s) implements VelocityField {
        double v(double x, double t) {
            int k = pi.length;
            double[] logw = new double[k], vk = new double[k];
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < k; c++) {
                double s2 = s[c] * s[c], m = (1 - t) * mu[c], var = (1 - t) * (1 - t) * s2 + t * t;
                double r = x - m;
                logw[c] = Math.log(pi[c]) - 0.5 * Math.log(var) - 0.5 * r * r / var;
                vk[c] = (t - (1 - t) * s2) * r / var - mu[c];
                max = Math.max(max, logw[c]);
            }
            double z = 0, num = 0;
            for (int c = 0; c < k; c++) {
                double w = Math.exp(logw[c] - max);
                z += w;
                num += w * vk[c];
            }
            return num / z;
        }

        double mean() {
            double m = 0;
            for (int c = 0; c < pi.length; c++) m += pi[c] * mu[c];
            return m;
        }

        double variance() {
            double m2 = 0;
            for (int c = 0; c < pi.length; c++) m2 += pi[c] * (s[c] * s[c] + mu[c] * mu[c]);
            return m2 - mean() * mean();
        }

        @Override
        public void velocity(float[] x, double t, float[] labels, float[] out) {
            for (int i = 0; i < x.length; i++) out[i] = (float) v(x[i], t);
        }
    }
}
