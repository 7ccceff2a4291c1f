package erw.model.io;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reading and writing <a href="https://github.com/huggingface/safetensors">safetensors</a> files:
 * an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * ({@code {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {..}}}),
 * then the little-endian, C-order data buffer the offsets point into.
 */
public final class SafeTensors {
    static final String METADATA_KEY = "__metadata__";
    /** Problems listed one by one in a {@link #checkShapes} error before the rest are only counted. */
    static final int MAX_LISTED_PROBLEMS = 200;
    private static final int CHUNK_FLOATS = 1 << 18;

    private SafeTensors() {}

    /** A float32 tensor to write: {@code data} in C order, {@code product(shape) == data.length} (shape {@code []} is a scalar). */
    public record Tensor(long[] shape, float[] data) {
        public Tensor {
            Objects.requireNonNull(shape, "shape");
            Objects.requireNonNull(data, "data");
            shape = shape.clone();
            long numel = 1;
            for (long d : shape) {
                if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
                try {
                    numel = Math.multiplyExact(numel, d);
                } catch (ArithmeticException e) {
                    throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has too many elements");
                }
            }
            if (numel != data.length) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + numel + " elements but data has " + data.length);
            }
        }

        public static Tensor of(float[] data, long... shape) {
            return new Tensor(shape, data);
        }

        public long numel() {
            return data.length;
        }

        @Override
        public String toString() {
            return "Tensor" + Arrays.toString(shape) + "(F32, " + data.length + " elements)";
        }
    }

    /**
     * Opens and validates a file (header, dtypes, sizes, offsets inside the data buffer, no overlaps);
     * the tensor data is memory-mapped read-only (any file size). Close it to release the mapping.
     */
    public static SafeTensorsFile open(Path path) {
        return SafeTensorsFile.open(path);
    }

    /**
     * Writes {@code tensors} (F32, in iteration order) and {@code metadata} (may be null or empty)
     * atomically: a temporary file in the same directory, forced to disk, then renamed over
     * {@code path}. Parent directories are created.
     */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(tensors, "tensors");
        JsonNodeFactory nf = JsonNodeFactory.instance;
        ObjectNode header = nf.objectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject(METADATA_KEY);
            metadata.forEach((k, v) -> {
                if (k == null || v == null) throw new SafeTensorsException("cannot write " + path + ": metadata " + k + " = " + v + " (null keys and values are not allowed)");
                meta.put(k, v);
            });
        }
        List<Tensor> order = new ArrayList<>(tensors.size());
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name == null || name.isEmpty() || name.equals(METADATA_KEY)) {
                throw new SafeTensorsException("cannot write " + path + ": invalid tensor name '" + name + "'");
            }
            if (t == null) throw new SafeTensorsException("cannot write " + path + ": tensor '" + name + "' is null");
            ObjectNode entry = header.putObject(name);
            entry.put("dtype", "F32");
            ArrayNode shape = entry.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            long bytes = 4L * t.data().length;
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
            order.add(t);
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // keeps the data buffer 8-byte aligned
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        AtomicWrite.write(path, ch -> {
            AtomicWrite.writeFully(ch, head);
            byte[] chunk = new byte[4 * (int) Math.min(CHUNK_FLOATS, Math.max(1, maxLength(order)))];
            MemorySegment chunkSeg = MemorySegment.ofArray(chunk);
            ValueLayout.OfFloat le = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            for (Tensor t : order) {
                float[] d = t.data();
                for (int i = 0; i < d.length; i += CHUNK_FLOATS) {
                    int n = Math.min(CHUNK_FLOATS, d.length - i);
                    MemorySegment.copy(d, i, chunkSeg, le, 0, n);
                    AtomicWrite.writeFully(ch, ByteBuffer.wrap(chunk, 0, 4 * n));
                }
            }
        });
    }

    private static long maxLength(List<Tensor> ts) {
        long m = 0;
        for (Tensor t : ts) m = Math.max(m, t.data().length);
        return m;
    }

    /**
     * Checks a file against the tensors a model expects (name to shape): collects every missing,
     * unexpected and mis-shaped tensor and throws one {@link SafeTensorsException} listing them all,
     * e.g. {@code "model.safetensors: 2 problems: missing blocks.3.attn.qkv.weight (expected [576, 192]);
     * shape of pos_embed is [1, 16, 192], expected [1, 64, 192]"}.
     *
     * @param allowMissing    expected names absent from the file are fine
     * @param allowUnexpected names in the file that are not expected are fine
     */
    public static void checkShapes(SafeTensorsFile f, Map<String, long[]> expected, boolean allowMissing, boolean allowUnexpected) {
        List<String> problems = new ArrayList<>();
        expected.forEach((name, shape) -> {
            if (!f.contains(name)) {
                if (!allowMissing) problems.add("missing " + name + " (expected " + Arrays.toString(shape) + ")");
            } else if (!Arrays.equals(f.shape(name), shape)) {
                problems.add("shape of " + name + " is " + Arrays.toString(f.shape(name)) + ", expected " + Arrays.toString(shape));
            }
        });
        if (!allowUnexpected) {
            for (String name : f.names()) {
                if (!expected.containsKey(name)) problems.add("unexpected " + name + " (shape " + Arrays.toString(f.shape(name)) + ")");
            }
        }
        if (problems.isEmpty()) return;
        StringBuilder sb = new StringBuilder().append(f.path()).append(": ").append(problems.size())
                .append(problems.size() == 1 ? " problem: " : " problems: ");
        int listed = Math.min(problems.size(), MAX_LISTED_PROBLEMS);
        sb.append(String.join("; ", problems.subList(0, listed)));
        if (listed < problems.size()) sb.append("; ... and ").append(problems.size() - listed).append(" more");
        throw new SafeTensorsException(sb.toString());
    }
}
