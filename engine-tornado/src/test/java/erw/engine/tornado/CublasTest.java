package erw.engine.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.runtime.common.TornadoXPUDevice;
import uk.ac.manchester.tornado.runtime.library.LibraryRegistry;

/**
 * erw's cuBLAS path without a GPU: the row-major to column-major mapping of every GEMM layout, run through BLAS's
 * definition of a column-major GEMM, and the provider's registration with TornadoVM. On the CUDA backend the parity
 * tests then run the calls themselves (the GPU check's CUDA target).
 */
class CublasTest {
    /** BLAS: C = alpha op(X) op(Y) + beta C, all column-major; op(X) rows x depth, op(Y) depth x cols. */
    static void columnMajorGemm(int opX, int opY, int rows, int cols, int depth, float[] x, int ldx, float[] y, int ldy, float beta, float[] c, int ldc) {
        for (int j = 0; j < cols; j++) {
            for (int i = 0; i < rows; i++) {
                double sum = 0;
                for (int p = 0; p < depth; p++) {
                    float xv = opX == Cublas.OP_N ? x[i + p * ldx] : x[p + i * ldx];
                    float yv = opY == Cublas.OP_N ? y[p + j * ldy] : y[j + p * ldy];
                    sum += (double) xv * yv;
                }
                c[i + j * ldc] = (float) (sum + (beta == 0 ? 0 : beta * c[i + j * ldc]));
            }
        }
    }

    @Test
    void everyLayoutMapsToOneColumnMajorCall() {
        SplittableRandom rnd = new SplittableRandom(3);
        int m = 7, n = 5, k = 9;
        for (boolean transA : new boolean[] {false, true}) {
            for (boolean transB : new boolean[] {false, true}) {
                for (boolean accumulate : new boolean[] {false, true}) {
                    float[] a = new float[m * k], b = new float[k * n], c0 = new float[m * n];
                    for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextDouble(-1, 1);
                    for (int i = 0; i < b.length; i++) b[i] = (float) rnd.nextDouble(-1, 1);
                    for (int i = 0; i < c0.length; i++) c0[i] = (float) rnd.nextDouble(-1, 1);
                    float[] want = new float[m * n];
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            double s = accumulate ? c0[i * n + j] : 0;
                            for (int p = 0; p < k; p++) {
                                float av = transA ? a[p * m + i] : a[i * k + p];
                                float bv = transB ? b[j * k + p] : b[p * n + j];
                                s += (double) av * bv;
                            }
                            want[i * n + j] = (float) s;
                        }
                    }
                    Cublas.Call call = Cublas.Call.of(transA, transB, m, n, k);
                    float[] got = c0.clone();
                    columnMajorGemm(call.opX(), call.opY(), call.rows(), call.cols(), call.depth(), b, call.ldx(), a, call.ldy(),
                            accumulate ? 1f : 0f, got, call.ldc());
                    String layout = "transA " + transA + ", transB " + transB + ", accumulate " + accumulate;
                    for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5, layout + ", element " + i);
                }
            }
        }
    }

    @Test
    void theProviderIsRegisteredAndTakesOnlyCudaDevices() {
        Parity.tornado();
        var device = TornadoRuntimeProvider.getTornadoRuntime().getDefaultDevice();
        boolean cuda = device.getTornadoVMBackend() == TornadoVMBackendType.CUDA;
        assertEquals(cuda, RankDevice.libraryGemm(), "GEMMs go to cuBLAS exactly on the CUDA backend");
        assertEquals(cuda, new CublasProvider().canHandle((TornadoXPUDevice) device));
        if (!cuda) {
            // found by TornadoVM's ServiceLoader (else: "No provider found"), and refused for this device
            RuntimeException e = assertThrows(RuntimeException.class, () -> LibraryRegistry.findProvider(Cublas.LIBRARY, (TornadoXPUDevice) device));
            assertTrue(e.getMessage().contains("is not supported on device"), e.getMessage());
            assertFalse(e.getMessage().contains("No provider found"), e.getMessage());
        } else {
            assertTrue(LibraryRegistry.findProvider(Cublas.LIBRARY, (TornadoXPUDevice) device) instanceof CublasProvider);
        }
    }
}
