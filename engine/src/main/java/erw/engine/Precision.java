package erw.engine;

import java.util.Locale;

/**
 * The number format of GEMM operands ({@code --precision}): what a {@link erw.engine.ops.Matmul} or
 * {@link erw.engine.ops.Attention} multiplies. Everything else is fp32 in every mode: products are
 * accumulated in fp32, GEMM outputs (activations), biases, norms, softmax and its statistics, losses,
 * gradients as stored, master weights, AdamW moments and EMA.
 *
 * <ul>
 *   <li>{@link #FP32}: operands as they are (the reference).</li>
 *   <li>{@link #TF32}: each operand rounded to 10 mantissa bits (round to nearest, ties to even), NVIDIA's
 *       TensorFloat-32. The products of two such values are exact in fp32.</li>
 *   <li>{@link #BF16}: each operand rounded to bfloat16 (8 mantissa bits, round to nearest, ties to even,
 *       as PyTorch's {@code .to(torch.bfloat16)}), products exact, accumulated in fp32: the arithmetic of
 *       cuBLAS's bf16 GEMMs with an fp32 compute type. PyTorch's autocast also stores each GEMM's output
 *       in bf16; erw keeps outputs in fp32, so an activation is rounded only where a GEMM reads it.</li>
 * </ul>
 * Both roundings apply in the backward GEMMs too (the output gradient, the weights and the saved
 * activations they multiply), as under autocast. The rounding of an element depends only on its value,
 * so a GEMM in TF32 or BF16 keeps every guarantee of the fp32 one (bit-identical across thread counts);
 * on the CPU it equals the fp32 GEMM of the rounded operands exactly. Overflow rounds to infinity, NaN
 * stays NaN.
 */
public enum Precision {
    FP32(0), TF32(13), BF16(16);

    /** Low mantissa bits dropped by the rounding. */
    private final int dropped;

    Precision(int dropped) {
        this.dropped = dropped;
    }

    /** The option value: fp32, tf32 or bf16. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** {@code fp32 | tf32 | bf16} (any case); otherwise one line naming {@code option}. */
    public static Precision parse(String option, String s) {
        for (Precision p : values()) if (p.id().equalsIgnoreCase(s.trim())) return p;
        throw new IllegalArgumentException(option + " = " + s + " must be fp32, tf32 or bf16");
    }

    /** Low bits of the float's pattern that this mode clears (0 for fp32). */
    public int droppedBits() {
        return dropped;
    }

    /** The value as a GEMM of this precision multiplies it. */
    public float round(float x) {
        return dropped == 0 ? x : Float.intBitsToFloat(roundBits(Float.floatToRawIntBits(x), dropped));
    }

    /**
     * Rounds a float's bit pattern to nearest, ties to even, keeping the top {@code 32 - dropped} bits: adding
     * half an ulp of the target (minus one when the kept part is even) carries into the exponent where it must,
     * up to infinity. A NaN is kept a (quiet) NaN instead, since the carry could turn it into an infinity.
     */
    public static int roundBits(int bits, int dropped) {
        if ((bits & 0x7fffffff) > 0x7f800000) return (bits | 0x00400000) & (-1 << dropped);
        int half = (1 << (dropped - 1)) - 1, even = (bits >>> dropped) & 1;
        return (bits + half + even) & (-1 << dropped);
    }
}
