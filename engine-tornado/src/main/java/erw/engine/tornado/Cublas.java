package erw.engine.tornado;

import erw.engine.Precision;
import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * erw's GEMMs as cuBLAS calls: the library tasks of TornadoVM's CUDA backend ({@code TaskGraph.libraryTask}),
 * dispatched by {@link CublasProvider} to {@code cublasGemmEx} on TornadoVM's device buffers and stream.
 *
 * <p>erw's matrices are row-major and cuBLAS's column-major. A row-major {@code C (m x n) = op(A) op(B)} read
 * column-major is {@code C^T = op(B)^T op(A)^T}, so every product is one call with the operands swapped and
 * nothing transposed in memory ({@link Call#of}). The mapping is checked against a column-major reference
 * GEMM (BLAS's definition) in {@code CublasMappingTest}, here without a GPU.
 *
 * <p>Why a provider of erw's own and not TornadoVM's {@code nvidia/cublas}: its TF32 variant needs that module's
 * option classes at compile time, and its half-precision factories write bf16/fp16 outputs, while
 * {@code --precision bf16} keeps GEMM outputs fp32 (bf16 operands, fp32 accumulation and result).
 * {@code cublasGemmEx}, whose compute type and operand types are arguments, can serve all three; fp32 is
 * fp32 and TF32 are what this backend runs today ({@link #computeType}).
 */
final class Cublas {
    private Cublas() {}

    /** The id under which {@link CublasProvider} registers with TornadoVM's library registry. */
    static final String LIBRARY = "erw/cublas";

    /** cublasOperation_t. */
    static final int OP_N = 0, OP_T = 1;
    /**
     * cublasComputeType_t for fp32 operands and output: fp32 products and sums; and fp32 sums of products whose operands
     * cuBLAS down-converts to TF32 or to bf16 for the tensor cores.
     */
    static final int COMPUTE_32F = 68, COMPUTE_32F_FAST_16BF = 75, COMPUTE_32F_FAST_TF32 = 77;
    /** cudaDataType_t CUDA_R_32F (library_types.h): the type of X, Y and C. */
    static final int R_32F = 0;

    /**
     * The compute type of a precision. bf16 is {@code CUBLAS_COMPUTE_32F_FAST_16BF}: fp32 operands that cuBLAS rounds to bf16
     * as it loads them, fp32 accumulation and output, which is {@code --precision bf16}'s definition without bf16 copies
     * of the operands (TornadoVM 5.2's kernels cannot reinterpret a float's bits, which making them would need).
     */
    static int computeType(Precision p) {
        return switch (p) {
            case FP32 -> COMPUTE_32F;
            case TF32 -> COMPUTE_32F_FAST_TF32;
            case BF16 -> COMPUTE_32F_FAST_16BF;
        };
    }

    /**
     * One column-major {@code C = op(X) op(Y) + beta C} call: {@code X} is erw's B and {@code Y} erw's A.
     * {@code rows x cols} is the column-major C (erw's n x m), {@code depth} the shared dimension.
     */
    record Call(int opX, int opY, int rows, int cols, int depth, int ldx, int ldy, int ldc) {
        /** The call computing row-major {@code C (m x n) = op(A) op(B)} with A stored (m x k) or, transposed, (k x m), B (k x n) or (n x k). */
        static Call of(boolean transA, boolean transB, int m, int n, int k) {
            return new Call(transB ? OP_T : OP_N, transA ? OP_T : OP_N, n, m, k, transB ? k : n, transA ? m : k, n);
        }
    }

    /**
     * The library task's descriptor (its factory, as {@code TaskGraph.libraryTask} takes it): {@code batch} products
     * whose X, Y and C lie {@code sx}, {@code sy}, {@code sc} floats apart (a batch of 1: one product), arguments in the
     * order {@link CublasProvider#dispatch} reads them; C is written whole when {@code beta} is 0, else read too.
     */
    static LibraryTaskDescriptor gemm(int opX, int opY, int rows, int cols, int depth, FloatArray x, int ldx, int sx, FloatArray y, int ldy, int sy,
                                      float beta, FloatArray c, int ldc, int sc, int batch, int computeType) {
        Access[] access = new Access[17];
        java.util.Arrays.fill(access, Access.READ_ONLY);
        access[12] = beta != 0f ? Access.READ_WRITE : Access.WRITE_ONLY;
        return new LibraryTaskDescriptor().withLibrary(LIBRARY).withFunction("gemm")
                .withParameters(new Object[] {opX, opY, rows, cols, depth, x, ldx, sx, y, ldy, sy, beta, c, ldc, sc, batch, computeType}).withAccess(access);
    }
}
