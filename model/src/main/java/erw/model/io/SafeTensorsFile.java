package erw.model.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An open, validated safetensors file. The header is parsed and checked when opened; tensor data is
 * memory-mapped read-only (one mapping of the data buffer, any size) and converted on read. Reads are
 * thread-safe; {@link #close()} releases the mapping, after which only the header accessors work.
 */
public final class SafeTensorsFile implements AutoCloseable {
    /** Headers above this are rejected (as the reference implementation does): not a safetensors file. */
    static final long MAX_HEADER_BYTES = 100L << 20;
    private static final int MAX_NAMES_IN_ERROR = 8;
    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private record Entry(String name, DType dtype, long[] shape, long numel, long begin, long end) {}

    private final Path path;
    private final Map<String, String> metadata;
    private final Map<String, Entry> entries;
    private final Arena arena;
    private final MemorySegment data;
    private volatile boolean closed;

    private SafeTensorsFile(Path path, Map<String, String> metadata, Map<String, Entry> entries, Arena arena, MemorySegment data) {
        this.path = path;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.entries = Collections.unmodifiableMap(entries);
        this.arena = arena;
        this.data = data;
    }

    static SafeTensorsFile open(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new SafeTensorsException(path + ": file is " + size + " bytes, shorter than the 8-byte header length: not a safetensors file (empty or truncated?)");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0, path);
            long n = lenBuf.getLong(0);
            if (n < 0 || n > size - 8) {
                throw new SafeTensorsException(path + ": header length " + Long.toUnsignedString(n) + " is larger than the rest of the file ("
                        + (size - 8) + " bytes): truncated, or not a safetensors file" + guessFormat(lenBuf.array()));
            }
            if (n > MAX_HEADER_BYTES) {
                throw new SafeTensorsException(path + ": header length " + n + " exceeds the " + MAX_HEADER_BYTES + "-byte limit: not a safetensors file" + guessFormat(lenBuf.array()));
            }
            ByteBuffer headBuf = ByteBuffer.allocate((int) n);
            readFully(ch, headBuf, 8, path);
            long dataLen = size - 8 - n;
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, Entry> entries = parseHeader(path, headBuf.array(), dataLen, metadata);
            Arena arena = Arena.ofShared();
            try {
                MemorySegment seg = dataLen > 0 ? ch.map(FileChannel.MapMode.READ_ONLY, 8 + n, dataLen, arena) : MemorySegment.NULL;
                return new SafeTensorsFile(path, metadata, entries, arena, seg);
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
        } catch (NoSuchFileException e) {
            throw new SafeTensorsException(path + ": file not found", e);
        } catch (AccessDeniedException e) {
            throw new SafeTensorsException(path + ": permission denied", e);
        } catch (IOException e) {
            throw new SafeTensorsException(path + ": cannot read: " + e, e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path path) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) throw new SafeTensorsException(path + ": file ended while reading the header (truncated)");
        }
    }

    /** A hint when the first bytes are those of another well-known format. */
    private static String guessFormat(byte[] first8) {
        if (first8[0] == 'P' && first8[1] == 'K' && first8[2] == 3 && first8[3] == 4) return " (it looks like a zip archive, e.g. a PyTorch .pt/.pth checkpoint)";
        if ((first8[0] & 0xFF) == 0x80 && first8[1] >= 2 && first8[1] <= 5) return " (it looks like a Python pickle)";
        if ((first8[0] & 0xFF) == 0x93 && first8[1] == 'N' && first8[2] == 'U' && first8[3] == 'M') return " (it looks like a .npy file: use Npy.read)";
        if (first8[0] == '{' || first8[0] == '<' || first8[0] == '#') return " (it looks like a text file)";
        return "";
    }

    private static Map<String, Entry> parseHeader(Path path, byte[] head, long dataLen, Map<String, String> metadata) {
        int len = head.length;
        while (len > 0 && (head[len - 1] == 0 || head[len - 1] == ' ')) len--; // padding
        JsonNode root;
        try {
            root = JSON.readTree(head, 0, len);
        } catch (JacksonException e) {
            JsonLocation loc = e.getLocation();
            String where = loc == null ? "" : " at byte " + loc.getByteOffset();
            throw new SafeTensorsException(path + ": header is not valid JSON" + where + ": " + shorten(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new SafeTensorsException(path + ": header is not valid JSON: " + shorten(e.getMessage()));
        }
        if (root == null || root.isMissingNode() || !root.isObject()) {
            throw new SafeTensorsException(path + ": header is not a JSON object" + (root == null || root.isMissingNode() ? " (it is empty)" : " (it is a JSON " + root.getNodeType().toString().toLowerCase() + ")"));
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> f : root.properties()) {
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals(SafeTensors.METADATA_KEY)) {
                if (!v.isObject()) throw new SafeTensorsException(path + ": " + SafeTensors.METADATA_KEY + " must be a JSON object of strings, found " + shorten(v.toString()));
                for (Map.Entry<String, JsonNode> kv : v.properties()) {
                    if (!kv.getValue().isTextual()) {
                        throw new SafeTensorsException(path + ": " + SafeTensors.METADATA_KEY + " value of '" + kv.getKey() + "' must be a string, found " + shorten(kv.getValue().toString()));
                    }
                    metadata.put(kv.getKey(), kv.getValue().textValue());
                }
                continue;
            }
            entries.put(name, parseEntry(path, name, v, dataLen));
        }
        // no two tensors may share bytes (zero-size tensors occupy none)
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.removeIf(e -> e.begin == e.end);
        sorted.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < sorted.size(); i++) {
            Entry a = sorted.get(i - 1), b = sorted.get(i);
            if (b.begin < a.end) {
                throw new SafeTensorsException(path + ": tensors '" + a.name + "' " + range(a) + " and '" + b.name + "' " + range(b) + " overlap in the data buffer");
            }
        }
        return entries;
    }

    private static Entry parseEntry(Path path, String name, JsonNode v, long dataLen) {
        String at = path + ": tensor '" + name + "'";
        if (!v.isObject()) throw new SafeTensorsException(at + ": header entry must be an object with dtype, shape and data_offsets, found " + shorten(v.toString()));
        JsonNode dt = v.get("dtype"), sh = v.get("shape"), off = v.get("data_offsets");
        List<String> missing = new ArrayList<>();
        if (dt == null) missing.add("dtype");
        if (sh == null) missing.add("shape");
        if (off == null) missing.add("data_offsets");
        if (!missing.isEmpty()) throw new SafeTensorsException(at + ": header entry lacks " + String.join(", ", missing));
        if (!dt.isTextual()) throw new SafeTensorsException(at + ": dtype must be a string, found " + shorten(dt.toString()));
        DType dtype = DType.of(dt.textValue());
        if (dtype == null) throw new SafeTensorsException(at + ": unknown dtype '" + shorten(dt.textValue()) + "' (known: " + DType.known() + ")");
        if (!sh.isArray()) throw new SafeTensorsException(at + ": shape must be an array of non-negative integers, found " + shorten(sh.toString()));
        long[] shape = new long[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw new SafeTensorsException(at + ": shape must be an array of non-negative integers, found " + shorten(sh.toString()));
            }
            shape[i] = d.longValue();
        }
        for (long d : shape) {
            try {
                numel = Math.multiplyExact(numel, d);
            } catch (ArithmeticException e) {
                numel = -1;
                break;
            }
        }
        long bytes = -1;
        if (numel >= 0) {
            try {
                bytes = Math.multiplyExact(numel, (long) dtype.size);
            } catch (ArithmeticException ignored) {
                // left at -1
            }
        }
        if (bytes < 0) throw new SafeTensorsException(at + ": shape " + Arrays.toString(shape) + " is impossibly large");
        if (!off.isArray() || off.size() != 2 || !isOffset(off.get(0)) || !isOffset(off.get(1))) {
            throw new SafeTensorsException(at + ": data_offsets must be [begin, end] with non-negative integers, found " + shorten(off.toString()));
        }
        long begin = off.get(0).longValue(), end = off.get(1).longValue();
        if (begin > end) throw new SafeTensorsException(at + ": data_offsets [" + begin + ", " + end + "] have begin > end");
        if (end > dataLen) {
            throw new SafeTensorsException(at + ": data_offsets [" + begin + ", " + end + "] run past the end of the data buffer, which holds "
                    + dataLen + " bytes: the file is truncated or its header lies about the offsets");
        }
        if (end - begin != bytes) {
            throw new SafeTensorsException(at + ": data_offsets [" + begin + ", " + end + "] span " + (end - begin) + " bytes, but " + dtype
                    + " " + Arrays.toString(shape) + " needs " + numel + " x " + dtype.size + " = " + bytes + " bytes");
        }
        return new Entry(name, dtype, shape, numel, begin, end);
    }

    private static boolean isOffset(JsonNode n) {
        return n != null && n.isIntegralNumber() && n.canConvertToLong() && n.longValue() >= 0;
    }

    private static String range(Entry e) {
        return "[" + e.begin + ", " + e.end + ")";
    }

    private static String shorten(String s) {
        if (s == null) return "";
        s = s.replace('\n', ' ');
        return s.length() <= 160 ? s : s.substring(0, 157) + "...";
    }

    // ---------------------------------------------------------------- header

    public Path path() {
        return path;
    }

    /** The {@code __metadata__} strings (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensor names in file (header) order. */
    public Set<String> names() {
        return entries.keySet();
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The safetensors dtype name, e.g. {@code "F32"}, {@code "BF16"}, {@code "I64"}. */
    public String dtype(String name) {
        return entry(name).dtype.name();
    }

    public long[] shape(String name) {
        return entry(name).shape.clone();
    }

    public long numel(String name) {
        return entry(name).numel;
    }

    // ---------------------------------------------------------------- data

    /** The tensor as float32 (floating dtypes converted, integer and BOOL dtypes as their values). */
    public float[] readFloats(String name) {
        Entry e = entry(name);
        float[] out = new float[arrayLength(e)];
        read(e, out, 0);
        return out;
    }

    /** Converts the tensor into {@code dst[dstOff .. dstOff + numel)} without allocating. */
    public void readFloats(String name, float[] dst, int dstOff) {
        Entry e = entry(name);
        if (dstOff < 0 || dstOff > dst.length || dst.length - dstOff < e.numel) {
            throw new SafeTensorsException(path + ": tensor '" + name + "' " + Arrays.toString(e.shape) + " has " + e.numel
                    + " elements, which do not fit in the destination (length " + dst.length + ", offset " + dstOff + ")");
        }
        read(e, dst, dstOff);
    }

    /**
     * Converts elements {@code [first, first + count)} of the tensor (flat, C order) into
     * {@code dst[dstOff ..]}: rows of a large memory-mapped tensor without reading the rest.
     */
    public void readFloats(String name, long first, int count, float[] dst, int dstOff) {
        Entry e = entry(name);
        if (first < 0 || count < 0 || first + count > e.numel || dstOff < 0 || dst.length - dstOff < count) {
            throw new SafeTensorsException(path + ": elements [" + first + ", " + (first + count) + ") of tensor '" + name + "' "
                    + Arrays.toString(e.shape) + " (" + e.numel + " elements) into a destination of length " + dst.length + " at " + dstOff + " are out of range");
        }
        ensureOpen(name);
        try {
            e.dtype.toFloats(data, e.begin + first * e.dtype.size, ByteOrder.LITTLE_ENDIAN, dst, dstOff, count);
        } catch (IllegalStateException ex) {
            throw closedError(name, ex);
        }
    }

    /** The values of an integer (I*, U*, BOOL) tensor, e.g. class labels; U64 above Long.MAX_VALUE wraps. */
    public long[] readLongs(String name) {
        Entry e = entry(name);
        if (e.dtype.floating) {
            throw new SafeTensorsException(path + ": tensor '" + name + "' has dtype " + e.dtype + ", readLongs needs an integer dtype (I64, I32, I16, I8, U8, BOOL, ...): use readFloats");
        }
        long[] out = new long[arrayLength(e)];
        ensureOpen(name);
        try {
            e.dtype.toLongs(data, e.begin, ByteOrder.LITTLE_ENDIAN, out, out.length);
        } catch (IllegalStateException ex) {
            throw closedError(name, ex);
        }
        return out;
    }

    private void read(Entry e, float[] dst, int dstOff) {
        ensureOpen(e.name);
        try {
            e.dtype.toFloats(data, e.begin, ByteOrder.LITTLE_ENDIAN, dst, dstOff, (int) e.numel);
        } catch (IllegalStateException ex) {
            throw closedError(e.name, ex);
        }
    }

    private int arrayLength(Entry e) {
        if (e.numel > Integer.MAX_VALUE - 8) {
            throw new SafeTensorsException(path + ": tensor '" + e.name + "' " + Arrays.toString(e.shape) + " has " + e.numel + " elements, too many for one Java array");
        }
        return (int) e.numel;
    }

    private void ensureOpen(String name) {
        if (closed) throw closedError(name, null);
    }

    private SafeTensorsException closedError(String name, Throwable cause) {
        return new SafeTensorsException(path + ": cannot read tensor '" + name + "': the file has been closed", cause);
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e != null) return e;
        if (name == null) throw new SafeTensorsException(path + ": tensor name is null");
        throw new SafeTensorsException(path + ": no tensor '" + name + "' in the file (" + entries.size() + " tensor"
                + (entries.size() == 1 ? "" : "s") + (entries.isEmpty() ? ")" : "; closest: " + String.join(", ", closest(name)) + ")"));
    }

    /** A few names, those sharing the longest prefix (then suffix) with {@code name} first. */
    private List<String> closest(String name) {
        List<String> all = new ArrayList<>(entries.keySet());
        all.sort(Comparator.comparingInt((String s) -> -commonPrefix(s, name))
                .thenComparingInt(s -> -commonSuffix(s, name)));
        List<String> out = new ArrayList<>(all.subList(0, Math.min(MAX_NAMES_IN_ERROR, all.size())));
        if (all.size() > out.size()) out.add("...");
        return out;
    }

    private static int commonPrefix(String a, String b) {
        int n = Math.min(a.length(), b.length()), i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) i++;
        return i;
    }

    private static int commonSuffix(String a, String b) {
        int n = Math.min(a.length(), b.length()), i = 0;
        while (i < n && a.charAt(a.length() - 1 - i) == b.charAt(b.length() - 1 - i)) i++;
        return i;
    }

    /** Releases the mapping; idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        arena.close();
    }

    @Override
    public String toString() {
        return "SafeTensorsFile[" + path + ", " + entries.size() + " tensors]";
    }
}
