package erw.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** FastMath: accuracy against java.lang.Math, and the vector form equal to the scalar form bit for bit. */
class FastMathTest {
    @Test
    void expTanhSigmoidAreAccurateAndVectorEqualsScalar() {
        int n = Vec.S.length() * 4096;
        float[] x = new float[n], v = new float[n];
        for (int i = 0; i < n; i++) x[i] = -90f + 180f * i / n;
        for (int which = 0; which < 3; which++) {
            for (int i = 0; i < n; i += Vec.S.length()) {
                FloatVector in = FloatVector.fromArray(Vec.S, x, i);
                (which == 0 ? FastMath.exp(in) : which == 1 ? FastMath.tanh(in) : FastMath.sigmoid(in)).intoArray(v, i);
            }
            for (int i = 0; i < n; i++) {
                float s = which == 0 ? FastMath.exp(x[i]) : which == 1 ? FastMath.tanh(x[i]) : FastMath.sigmoid(x[i]);
                assertEquals(Float.floatToIntBits(s), Float.floatToIntBits(v[i]), "vector vs scalar at x=" + x[i] + " (" + which + ")");
                double ref = which == 0 ? Math.exp(Math.min(Math.max(x[i], -87), 88)) : which == 1 ? Math.tanh(x[i]) : 1 / (1 + Math.exp(-x[i]));
                double tol = which == 0 ? 4e-7 * ref : 2e-7;
                assertEquals(ref, s, tol, "value at x=" + x[i] + " (" + which + ")");
            }
        }
    }
}
