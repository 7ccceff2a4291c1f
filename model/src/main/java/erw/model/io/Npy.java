package erw.model.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * NumPy {@code .npy} files (format versions 1, 2 and 3), C order. Reading converts {@code f4, f8,
 * f2, i8, i4, i2, u1, i1, u2, u4, u8, b1} (either byte order) to float32; writing is {@code '<f4'},
 * atomic like {@link SafeTensors#write}. Errors are {@link SafeTensorsException}s naming the file.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("['\"]descr['\"]\\s*:\\s*['\"]([^'\"]*)['\"]");
    private static final Pattern FORTRAN = Pattern.compile("['\"]fortran_order['\"]\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("['\"]shape['\"]\\s*:\\s*\\(([^)]*)\\)");
    private static final int CHUNK_FLOATS = 1 << 18;

    private Npy() {}

    /** A float32 array in C order, {@code product(shape) == data.length}. */
    public record Array(long[] shape, float[] data) {
        public Array {
            shape = new SafeTensors.Tensor(shape, data).shape(); // same validation, cloned
        }

        public long numel() {
            return data.length;
        }

        @Override
        public String toString() {
            return "Npy.Array" + Arrays.toString(shape) + "(" + data.length + " elements)";
        }
    }

    public static Array read(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer pre = ByteBuffer.allocate((int) Math.min(12, size)).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, pre, 0);
            if (size < 10 || !Arrays.equals(Arrays.copyOf(pre.array(), 6), MAGIC)) {
                throw new SafeTensorsException(path + ": not a .npy file (no \\x93NUMPY magic)");
            }
            int major = pre.get(6) & 0xFF, minor = pre.get(7) & 0xFF;
            long headerLen;
            int headerStart;
            if (major == 1) {
                headerLen = pre.getShort(8) & 0xFFFF;
                headerStart = 10;
            } else if (major == 2 || major == 3) {
                if (size < 12) throw new SafeTensorsException(path + ": truncated .npy header");
                headerLen = pre.getInt(8) & 0xFFFFFFFFL;
                headerStart = 12;
            } else {
                throw new SafeTensorsException(path + ": unsupported .npy format version " + major + "." + minor + " (1, 2 and 3 are supported)");
            }
            if (headerStart + headerLen > size) {
                throw new SafeTensorsException(path + ": .npy header length " + headerLen + " is larger than the file (" + size + " bytes): truncated");
            }
            if (headerLen > SafeTensorsFile.MAX_HEADER_BYTES) throw new SafeTensorsException(path + ": .npy header length " + headerLen + " is implausibly large");
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, headerStart);
            String header = new String(hb.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
            Matcher d = DESCR.matcher(header), f = FORTRAN.matcher(header), s = SHAPE.matcher(header);
            if (!d.find() || !f.find() || !s.find()) {
                throw new SafeTensorsException(path + ": .npy header is not a {'descr', 'fortran_order', 'shape'} dict of a simple dtype: " + printable(header));
            }
            if (f.group(1).equals("True")) {
                throw new SafeTensorsException(path + ": fortran_order is True: only C-order arrays are supported (save with np.ascontiguousarray)");
            }
            String descr = d.group(1);
            ByteOrder order = switch (descr.isEmpty() ? ' ' : descr.charAt(0)) {
                case '<', '|' -> ByteOrder.LITTLE_ENDIAN;
                case '>' -> ByteOrder.BIG_ENDIAN;
                case '=' -> ByteOrder.nativeOrder();
                default -> null;
            };
            DType dtype = order == null ? null : switch (descr.substring(1)) {
                case "f4" -> DType.F32;
                case "f8" -> DType.F64;
                case "f2" -> DType.F16;
                case "i8" -> DType.I64;
                case "i4" -> DType.I32;
                case "i2" -> DType.I16;
                case "i1" -> DType.I8;
                case "u8" -> DType.U64;
                case "u4" -> DType.U32;
                case "u2" -> DType.U16;
                case "u1" -> DType.U8;
                case "b1" -> DType.BOOL;
                default -> null;
            };
            if (dtype == null) {
                throw new SafeTensorsException(path + ": unsupported .npy dtype '" + descr + "' (supported: f4, f8, f2, i8, i4, i2, i1, u8, u4, u2, u1, b1)");
            }
            long[] shape = parseShape(path, s.group(1));
            long numel = 1;
            for (long x : shape) {
                try {
                    numel = Math.multiplyExact(numel, x);
                } catch (ArithmeticException e) {
                    throw new SafeTensorsException(path + ": shape " + Arrays.toString(shape) + " is impossibly large");
                }
            }
            if (numel > Integer.MAX_VALUE - 8) {
                throw new SafeTensorsException(path + ": shape " + Arrays.toString(shape) + " has " + numel + " elements, too many for one Java array");
            }
            long dataStart = headerStart + headerLen, bytes = numel * dtype.size;
            if (size - dataStart < bytes) {
                throw new SafeTensorsException(path + ": truncated: " + descr + " " + Arrays.toString(shape) + " needs " + bytes
                        + " data bytes, the file has " + (size - dataStart));
            }
            float[] out = new float[(int) numel];
            if (bytes > 0) {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, dataStart, bytes, arena);
                    dtype.toFloats(seg, 0, order, out, 0, out.length);
                }
            }
            return new Array(shape, out);
        } catch (NoSuchFileException e) {
            throw new SafeTensorsException(path + ": file not found", e);
        } catch (AccessDeniedException e) {
            throw new SafeTensorsException(path + ": permission denied", e);
        } catch (IOException e) {
            throw new SafeTensorsException(path + ": cannot read: " + e, e);
        }
    }

    private static long[] parseShape(Path path, String tuple) {
        String[] parts = tuple.split(",");
        int n = parts.length;
        if (n > 0 && parts[n - 1].isBlank()) n--; // "(3,)" and "()"
        long[] shape = new long[n];
        for (int i = 0; i < n; i++) {
            String p = parts[i].strip();
            if (p.endsWith("L")) p = p.substring(0, p.length() - 1); // Python 2 longs
            try {
                shape[i] = Long.parseLong(p);
            } catch (NumberFormatException e) {
                shape[i] = -1;
            }
            if (shape[i] < 0) throw new SafeTensorsException(path + ": bad .npy shape (" + tuple + ")");
        }
        return shape;
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            if (ch.read(buf, pos + buf.position()) < 0) break;
        }
    }

    /** A header as one printable line of at most 200 characters (it may hold anything in a damaged file). */
    private static String printable(String header) {
        String h = header.strip().replaceAll("\\p{Cntrl}", "?");
        return h.length() > 200 ? h.substring(0, 200) + "..." : h;
    }

    /** Writes a {@code '<f4'} C-order array atomically (version 1 header, 64-byte aligned data; version 2 for huge headers). */
    public static void write(Path path, long[] shape, float[] data) {
        Objects.requireNonNull(path, "path");
        Array a = new Array(shape, data);
        StringBuilder sh = new StringBuilder("(");
        for (int i = 0; i < a.shape().length; i++) sh.append(i > 0 ? ", " : "").append(a.shape()[i]);
        if (a.shape().length == 1) sh.append(',');
        sh.append(')');
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + sh + ", }";
        int major = dict.length() + 10 + 1 > 0xFFFF ? 2 : 1;
        int pre = major == 1 ? 10 : 12;
        int total = (pre + dict.length() + 1 + 63) / 64 * 64;
        StringBuilder header = new StringBuilder(dict);
        while (pre + header.length() + 1 < total) header.append(' ');
        header.append('\n');
        byte[] hbytes = header.toString().getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer head = ByteBuffer.allocate(pre + hbytes.length).order(ByteOrder.LITTLE_ENDIAN);
        head.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) head.putShort((short) hbytes.length);
        else head.putInt(hbytes.length);
        head.put(hbytes).flip();
        AtomicWrite.write(path, ch -> {
            AtomicWrite.writeFully(ch, head);
            byte[] chunk = new byte[4 * Math.max(1, Math.min(CHUNK_FLOATS, data.length))];
            MemorySegment seg = MemorySegment.ofArray(chunk);
            ValueLayout.OfFloat le = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < data.length; i += CHUNK_FLOATS) {
                int n = Math.min(CHUNK_FLOATS, data.length - i);
                MemorySegment.copy(data, i, seg, le, 0, n);
                AtomicWrite.writeFully(ch, ByteBuffer.wrap(chunk, 0, 4 * n));
            }
        });
    }
}
