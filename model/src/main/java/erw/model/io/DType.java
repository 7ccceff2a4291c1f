package erw.model.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Element types of safetensors and .npy files, with their conversions to float and long. */
enum DType {
    F64(8, true), F32(4, true), F16(2, true), BF16(2, true), F8_E4M3(1, true), F8_E5M2(1, true),
    I64(8, false), I32(4, false), I16(2, false), I8(1, false),
    U64(8, false), U32(4, false), U16(2, false), U8(1, false), BOOL(1, false);

    final int size;
    final boolean floating;

    DType(int size, boolean floating) {
        this.size = size;
        this.floating = floating;
    }

    /** The dtype for a safetensors name, or null. */
    static DType of(String name) {
        for (DType d : values()) if (d.name().equals(name)) return d;
        return null;
    }

    static String known() {
        StringBuilder sb = new StringBuilder();
        for (DType d : values()) sb.append(sb.isEmpty() ? "" : ", ").append(d.name());
        return sb.toString();
    }

    /** Converts {@code n} elements starting at byte {@code off} of {@code seg} to float. */
    void toFloats(MemorySegment seg, long off, ByteOrder order, float[] dst, int dstOff, int n) {
        switch (this) {
            case F32 -> MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(order), off, dst, dstOff, n);
            case F64 -> {
                ValueLayout.OfDouble l = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(order);
                for (int i = 0; i < n; i++) dst[dstOff + i] = (float) seg.get(l, off + 8L * i);
            }
            case F16 -> {
                ValueLayout.OfShort l = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(order);
                for (int i = 0; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(seg.get(l, off + 2L * i));
            }
            case BF16 -> {
                ValueLayout.OfShort l = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(order);
                for (int i = 0; i < n; i++) dst[dstOff + i] = Float.intBitsToFloat((seg.get(l, off + 2L * i) & 0xFFFF) << 16);
            }
            case F8_E5M2 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = Float.float16ToFloat((short) ((seg.get(ValueLayout.JAVA_BYTE, off + i) & 0xFF) << 8));
            }
            case F8_E4M3 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = e4m3(seg.get(ValueLayout.JAVA_BYTE, off + i));
            }
            case BOOL -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = seg.get(ValueLayout.JAVA_BYTE, off + i) != 0 ? 1f : 0f;
            }
            case U64 -> {
                ValueLayout.OfLong l = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(order);
                for (int i = 0; i < n; i++) {
                    long v = seg.get(l, off + 8L * i);
                    dst[dstOff + i] = v >= 0 ? (float) v : (float) (v >>> 1) * 2f;
                }
            }
            default -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = (float) integer(seg, off + (long) size * i, order);
            }
        }
    }

    /** Reads {@code n} integer elements (BOOL as 0/1; U64 above Long.MAX_VALUE wraps). */
    void toLongs(MemorySegment seg, long off, ByteOrder order, long[] dst, int n) {
        if (this == I64 || this == U64) {
            MemorySegment.copy(seg, ValueLayout.JAVA_LONG_UNALIGNED.withOrder(order), off, dst, 0, n);
            return;
        }
        for (int i = 0; i < n; i++) dst[i] = integer(seg, off + (long) size * i, order);
    }

    private long integer(MemorySegment seg, long off, ByteOrder order) {
        return switch (this) {
            case I64, U64 -> seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(order), off);
            case I32 -> seg.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(order), off);
            case U32 -> seg.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(order), off) & 0xFFFFFFFFL;
            case I16 -> seg.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(order), off);
            case U16 -> seg.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(order), off) & 0xFFFF;
            case I8 -> seg.get(ValueLayout.JAVA_BYTE, off);
            case U8 -> seg.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
            case BOOL -> seg.get(ValueLayout.JAVA_BYTE, off) != 0 ? 1 : 0;
            default -> throw new IllegalStateException(this + " is not an integer type");
        };
    }

    /** OCP FP8 E4M3 ("fn": no infinities, S.1111.111 is NaN, bias 7). */
    static float e4m3(byte b) {
        int v = b & 0xFF;
        float sign = (v & 0x80) != 0 ? -1f : 1f;
        int exp = (v >>> 3) & 0xF, man = v & 0x7;
        if (exp == 0xF && man == 0x7) return Float.NaN;
        if (exp == 0) return sign * Math.scalb(man / 8f, -6);
        return sign * Math.scalb(1f + man / 8f, exp - 7);
    }
}
