package erw.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SafeTensorsTest {
    @TempDir
    Path dir;

    // ------------------------------------------------------------------ helpers

    /** A safetensors file from a raw header string and raw data bytes. */
    static byte[] raw(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.array();
    }

    static byte[] le(int bytesPerValue, long... values) {
        ByteBuffer b = ByteBuffer.allocate(bytesPerValue * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            switch (bytesPerValue) {
                case 8 -> b.putLong(v);
                case 4 -> b.putInt((int) v);
                case 2 -> b.putShort((short) v);
                default -> b.put((byte) v);
            }
        }
        return b.array();
    }

    Path file(String name, byte[] bytes) {
        try {
            return Files.write(dir.resolve(name), bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    // ------------------------------------------------------------------ round trips

    @Test
    void roundTripKeepsOrderShapesDataAndMetadata() {
        Map<String, SafeTensors.Tensor> ts = new LinkedHashMap<>();
        ts.put("pos_embed", SafeTensors.Tensor.of(new float[]{1, 2, 3, 4, 5, 6}, 1, 2, 3));
        ts.put("a.bias", SafeTensors.Tensor.of(new float[]{-0.5f, Float.MIN_VALUE, Float.MAX_VALUE}, 3));
        ts.put("scalar", SafeTensors.Tensor.of(new float[]{42.25f}));
        ts.put("empty", SafeTensors.Tensor.of(new float[0], 0, 5));
        ts.put("nan", SafeTensors.Tensor.of(new float[]{Float.NaN, Float.NEGATIVE_INFINITY}, 2, 1));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("erw.config", "{\"depth\": 2, \"name\": \"SiT-S/2 ü\"}");
        meta.put("step", "100");
        Path p = dir.resolve("model.safetensors");
        SafeTensors.write(p, ts, meta);

        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertEquals(p, f.path());
            assertEquals(List.of("pos_embed", "a.bias", "scalar", "empty", "nan"), new ArrayList<>(f.names()));
            assertEquals(meta, f.metadata());
            assertTrue(f.contains("a.bias"));
            assertFalse(f.contains("__metadata__"));
            for (var e : ts.entrySet()) {
                assertEquals("F32", f.dtype(e.getKey()));
                assertArrayEquals(e.getValue().shape(), f.shape(e.getKey()), e.getKey());
                assertEquals(e.getValue().data().length, f.numel(e.getKey()));
                assertArrayEquals(e.getValue().data(), f.readFloats(e.getKey()), e.getKey());
            }
            assertArrayEquals(new long[0], f.shape("scalar"));
            float[] dst = new float[10];
            f.readFloats("a.bias", dst, 4);
            assertArrayEquals(new float[]{0, 0, 0, 0, -0.5f, Float.MIN_VALUE, Float.MAX_VALUE, 0, 0, 0}, dst);
            f.shape("pos_embed")[0] = 99; // a copy
            assertEquals(1, f.shape("pos_embed")[0]);
        }
    }

    @Test
    void headerIsAlignedAndMetadataOptional() throws IOException {
        Path p = dir.resolve("x.safetensors");
        SafeTensors.write(p, Map.of("w", SafeTensors.Tensor.of(new float[]{1, 2}, 2)), null);
        byte[] b = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, n % 8, "data buffer 8-byte aligned");
        assertEquals(8 + n + 8, b.length);
        assertFalse(new String(b, 8, (int) n, StandardCharsets.UTF_8).contains("__metadata__"));
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertTrue(f.metadata().isEmpty());
            assertArrayEquals(new float[]{1, 2}, f.readFloats("w"));
        }
        SafeTensors.write(p, Map.of(), Map.of());
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertTrue(f.names().isEmpty());
        }
    }

    @Test
    void tensorRecordValidatesShape() {
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.Tensor.of(new float[5], 2, 3));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.Tensor.of(new float[0], -1));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.Tensor.of(new float[0]));
        long[] shape = {2, 2};
        SafeTensors.Tensor t = new SafeTensors.Tensor(shape, new float[4]);
        shape[0] = 7;
        assertArrayEquals(new long[]{2, 2}, t.shape());
        SafeTensorsException e = assertThrows(SafeTensorsException.class,
                () -> SafeTensors.write(dir.resolve("m.safetensors"), Map.of("__metadata__", t), null));
        assertTrue(e.getMessage().contains("m.safetensors"), e.getMessage());
    }

    // ------------------------------------------------------------------ other dtypes, built by hand

    @Test
    void readsHalfBfloatAndDoubleAsFloat() {
        short[] f16 = {(short) 0x3C00, (short) 0xC000, (short) 0x3555, (short) 0x7C00, (short) 0x0001};
        float[] f16want = {1f, -2f, Float.float16ToFloat((short) 0x3555), Float.POSITIVE_INFINITY, 5.9604645e-8f};
        float[] bfWant = {1f, -3.5f, 0.15625f};
        ByteBuffer d = ByteBuffer.allocate(10 + 6 + 16).order(ByteOrder.LITTLE_ENDIAN);
        for (short s : f16) d.putShort(s);
        for (float v : bfWant) d.putShort((short) (Float.floatToIntBits(v) >>> 16));
        d.putDouble(Math.PI).putDouble(-1e-3);
        String h = "{\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[3,1],\"data_offsets\":[10,16]},"
                + "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[16,32]}}";
        try (SafeTensorsFile f = SafeTensors.open(file("half.safetensors", raw(h, d.array())))) {
            assertEquals(List.of("h", "b", "d"), new ArrayList<>(f.names()));
            assertEquals("F16", f.dtype("h"));
            assertEquals("BF16", f.dtype("b"));
            assertArrayEquals(f16want, f.readFloats("h"));
            assertEquals(0.333f, f.readFloats("h")[2], 1e-3f);
            assertArrayEquals(bfWant, f.readFloats("b"));
            assertArrayEquals(new float[]{(float) Math.PI, -1e-3f}, f.readFloats("d"));
            assertThrows(SafeTensorsException.class, () -> f.readLongs("b"));
        }
    }

    @Test
    void readsFp8() {
        // E4M3: 0x38 = 1.0, 0xC0 = -2.0, 0x7E = 448, 0x01 = 2^-9, 0x7F = NaN; E5M2: 0x3C = 1.0, 0xC2 = -3.0
        String h = "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[5],\"data_offsets\":[0,5]},"
                + "\"b\":{\"dtype\":\"F8_E5M2\",\"shape\":[2],\"data_offsets\":[5,7]}}";
        try (SafeTensorsFile f = SafeTensors.open(file("fp8.safetensors", raw(h, le(1, 0x38, 0xC0, 0x7E, 0x01, 0x7F, 0x3C, 0xC2))))) {
            assertArrayEquals(new float[]{1f, -2f, 448f, 0x1p-9f, Float.NaN}, f.readFloats("a"));
            assertArrayEquals(new float[]{1f, -3f}, f.readFloats("b"));
        }
    }

    @Test
    void readsIntegerLabels() {
        ByteBuffer d = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        d.put(le(8, 7, -1, 999_999_999_999L)).put(le(4, 3, -4)).put(le(2, -5, 300)).put(le(1, -7, 200)).put(le(1, 255, 0)).put(le(1, 0, 1, 2));
        String h = "{\"i64\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]},"
                + "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[24,32]},"
                + "\"i16\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[32,36]},"
                + "\"i8\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[36,38]},"
                + "\"u8\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[38,40]},"
                + "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[40,43]}}";
        byte[] data = java.util.Arrays.copyOf(d.array(), 43);
        try (SafeTensorsFile f = SafeTensors.open(file("labels.safetensors", raw(h, data)))) {
            assertArrayEquals(new long[]{7, -1, 999_999_999_999L}, f.readLongs("i64"));
            assertArrayEquals(new float[]{7, -1, 999_999_999_999f}, f.readFloats("i64"));
            assertArrayEquals(new long[]{3, -4}, f.readLongs("i32"));
            assertArrayEquals(new long[]{-5, 300}, f.readLongs("i16"));
            assertArrayEquals(new long[]{-7, -56}, f.readLongs("i8"));
            assertArrayEquals(new long[]{255, 0}, f.readLongs("u8"));
            assertArrayEquals(new float[]{255, 0}, f.readFloats("u8"));
            assertArrayEquals(new long[]{0, 1, 1}, f.readLongs("bool"));
            assertArrayEquals(new float[]{0, 1, 1}, f.readFloats("bool"));
        }
    }

    @Test
    void acceptsSpacePaddedHeaderAndGaps() {
        String h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}      ";
        ByteBuffer d = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(0f).putFloat(2.5f);
        try (SafeTensorsFile f = SafeTensors.open(file("pad.safetensors", raw(h, d.array())))) {
            assertArrayEquals(new float[]{2.5f}, f.readFloats("w"));
        }
    }

    /** A tensor past the 2 GiB mark of a (sparse) file: the mapping is not limited to int offsets. */
    @Test
    void readsTensorBeyondTwoGigabytes() throws IOException {
        long pad = 3L << 30;
        String h = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[" + pad + "],\"data_offsets\":[0," + pad + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + pad + "," + (pad + 8) + "]}}";
        byte[] head = raw(h, new byte[0]);
        Path p = dir.resolve("big.safetensors");
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.SPARSE)) {
            ch.write(ByteBuffer.wrap(head));
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-7f).flip(), head.length + pad);
        }
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertEquals(pad, f.numel("pad"));
            assertArrayEquals(new float[]{1.5f, -7f}, f.readFloats("tail"));
            SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> f.readFloats("pad"));
            assertTrue(e.getMessage().contains("'pad'") && e.getMessage().contains("too many"), e.getMessage());
        }
    }

    // ------------------------------------------------------------------ atomic writes

    @Test
    void writeReplacesExistingAndLeavesNoTempFile() throws IOException {
        Path p = dir.resolve("ckpt.safetensors");
        Files.writeString(p, "old contents");
        SafeTensors.write(p, Map.of("w", SafeTensors.Tensor.of(new float[]{3}, 1)), Map.of("k", "v"));
        assertEquals(List.of("ckpt.safetensors"), listing(dir));
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertArrayEquals(new float[]{3}, f.readFloats("w"));
        }
        Path nested = dir.resolve("a/b/c.safetensors");
        SafeTensors.write(nested, Map.of(), null);
        assertEquals(List.of("c.safetensors"), listing(nested.getParent()));
    }

    @Test
    void failedWriteKeepsOldFileAndRemovesTemp() throws IOException {
        Path p = dir.resolve("ckpt.safetensors");
        Files.writeString(p, "old contents");
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> AtomicWrite.write(p, ch -> {
            ch.write(ByteBuffer.wrap(new byte[100]));
            throw new IOException("disk full");
        }));
        assertTrue(e.getMessage().contains("ckpt.safetensors") && e.getMessage().contains("disk full"), e.getMessage());
        assertEquals(List.of("ckpt.safetensors"), listing(dir));
        assertEquals("old contents", Files.readString(p));
    }

    // ------------------------------------------------------------------ bad files

    static final String OK_W = "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    static Stream<Arguments> badHeaders() {
        return Stream.of(
                Arguments.of("not json", "{\"w\": {\"dtype\": \"F32\",", 8, "not valid JSON", ""),
                Arguments.of("array", "[1, 2]", 8, "not a JSON object", ""),
                Arguments.of("trailing garbage", "{" + OK_W + "} xx", 8, "not valid JSON", ""),
                Arguments.of("duplicate", "{" + OK_W + "," + OK_W + "}", 8, "not valid JSON", "w"),
                Arguments.of("entry not object", "{\"w\": 3}", 8, "must be an object", "'w'"),
                Arguments.of("no dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "lacks dtype", "'w'"),
                Arguments.of("no shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "lacks shape", "'w'"),
                Arguments.of("no offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "lacks data_offsets", "'w'"),
                Arguments.of("unknown dtype", "{\"w\":{\"dtype\":\"F12\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype 'F12'", "'w'"),
                Arguments.of("bad shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 8, "non-negative integers", "'w'"),
                Arguments.of("bad offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "[begin, end]", "'w'"),
                Arguments.of("begin > end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, "begin > end", "'w'"),
                Arguments.of("offsets lie", "{" + OK_W + ",\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,1000]}}", 12, "past the end of the data buffer", "'v'"),
                Arguments.of("size mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 3 x 4 = 12 bytes", "'w'"),
                Arguments.of("overlap", "{" + OK_W + ",\"v\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[6,10]}}", 12, "overlap", "'v'"),
                Arguments.of("metadata not strings", "{\"__metadata__\":{\"step\":3}," + OK_W + "}", 8, "must be a string", "step"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badHeaders")
    void badHeaderGivesOneClearError(String label, String header, int dataBytes, String expected, String tensor) {
        Path p = file("bad-" + label.replace(' ', '_') + ".safetensors", raw(header, new byte[dataBytes]));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(p));
        String m = e.getMessage();
        assertTrue(m.contains(p.getFileName().toString()), m);
        assertTrue(m.contains(expected), m);
        assertTrue(m.contains(tensor), m);
        assertFalse(m.contains("\n"), m);
    }

    @Test
    void tooShortAndBadHeaderLength() {
        Path empty = file("empty.safetensors", new byte[0]);
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(empty));
        assertTrue(e.getMessage().contains("empty.safetensors") && e.getMessage().contains("shorter than the 8-byte"), e.getMessage());

        Path five = file("five.safetensors", new byte[5]);
        e = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(five));
        assertTrue(e.getMessage().contains("five.safetensors") && e.getMessage().contains("5 bytes"), e.getMessage());

        byte[] b = raw("{}", new byte[0]);
        b[0] = 100;
        Path lies = file("long-header.safetensors", b);
        e = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(lies));
        assertTrue(e.getMessage().contains("long-header.safetensors") && e.getMessage().contains("header length 100 is larger"), e.getMessage());

        Path zip = file("model.pt", new byte[]{'P', 'K', 3, 4, 0, 0, 0, 0, 1, 2, 3});
        e = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(zip));
        assertTrue(e.getMessage().contains("model.pt") && e.getMessage().contains("PyTorch"), e.getMessage());

        Path none = dir.resolve("absent.safetensors");
        e = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(none));
        assertTrue(e.getMessage().contains("absent.safetensors") && e.getMessage().contains("not found"), e.getMessage());
    }

    @Test
    void truncatedFileNamesTheTensor() throws IOException {
        Path p = dir.resolve("trunc.safetensors");
        Map<String, SafeTensors.Tensor> ts = new LinkedHashMap<>();
        ts.put("a", SafeTensors.Tensor.of(new float[16], 16));
        ts.put("blocks.0.mlp.fc2.weight", SafeTensors.Tensor.of(new float[16], 4, 4));
        SafeTensors.write(p, ts, null);
        byte[] b = Files.readAllBytes(p);
        Files.write(p, java.util.Arrays.copyOf(b, b.length - 10));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(p));
        String m = e.getMessage();
        assertTrue(m.contains("trunc.safetensors") && m.contains("'blocks.0.mlp.fc2.weight'") && m.contains("truncated"), m);
    }

    @Test
    void readErrorsNameFileAndTensor() {
        Map<String, SafeTensors.Tensor> ts = new LinkedHashMap<>();
        for (int i = 0; i < 12; i++) ts.put("blocks." + i + ".attn.qkv.weight", SafeTensors.Tensor.of(new float[]{i}, 1));
        ts.put("y_embedder.embedding_table.weight", SafeTensors.Tensor.of(new float[]{1, 2}, 2));
        Path p = dir.resolve("names.safetensors");
        SafeTensors.write(p, ts, null);
        SafeTensorsFile f = SafeTensors.open(p);
        try (f) {
            SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> f.readFloats("blocks.3.attn.proj.weight"));
            String m = e.getMessage();
            assertTrue(m.contains("names.safetensors") && m.contains("'blocks.3.attn.proj.weight'") && m.contains("13 tensors"), m);
            assertTrue(m.contains("blocks.3.attn.qkv.weight"), "closest names first: " + m);
            assertThrows(SafeTensorsException.class, () -> f.shape("nope"));

            e = assertThrows(SafeTensorsException.class, () -> f.readLongs("y_embedder.embedding_table.weight"));
            m = e.getMessage();
            assertTrue(m.contains("names.safetensors") && m.contains("'y_embedder.embedding_table.weight'") && m.contains("F32"), m);

            e = assertThrows(SafeTensorsException.class, () -> f.readFloats("y_embedder.embedding_table.weight", new float[3], 2));
            assertTrue(e.getMessage().contains("'y_embedder.embedding_table.weight'") && e.getMessage().contains("do not fit"), e.getMessage());
        }
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> f.readFloats("blocks.0.attn.qkv.weight"));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertEquals(13, f.names().size()); // header still readable
        f.close(); // idempotent
    }

    // ------------------------------------------------------------------ checkShapes

    @Test
    void checkShapesListsEveryProblem() {
        Map<String, SafeTensors.Tensor> ts = new LinkedHashMap<>();
        ts.put("pos_embed", SafeTensors.Tensor.of(new float[16 * 3], 1, 16, 3));
        ts.put("x_embedder.proj.weight", SafeTensors.Tensor.of(new float[6], 2, 3));
        ts.put("extra", SafeTensors.Tensor.of(new float[1]));
        Path p = dir.resolve("model.safetensors");
        SafeTensors.write(p, ts, null);
        Map<String, long[]> expected = new LinkedHashMap<>();
        expected.put("x_embedder.proj.weight", new long[]{2, 3});
        expected.put("blocks.3.attn.qkv.weight", new long[]{576, 192});
        expected.put("pos_embed", new long[]{1, 64, 3});
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.checkShapes(f, expected, false, false));
            assertEquals(p + ": 3 problems: missing blocks.3.attn.qkv.weight (expected [576, 192]); "
                    + "shape of pos_embed is [1, 16, 3], expected [1, 64, 3]; unexpected extra (shape [])", e.getMessage());

            e = assertThrows(SafeTensorsException.class, () -> SafeTensors.checkShapes(f, expected, true, true));
            assertEquals(p + ": 1 problem: shape of pos_embed is [1, 16, 3], expected [1, 64, 3]", e.getMessage());

            expected.put("pos_embed", new long[]{1, 16, 3});
            SafeTensors.checkShapes(f, expected, true, true);
            expected.remove("blocks.3.attn.qkv.weight");
            expected.put("extra", new long[0]);
            SafeTensors.checkShapes(f, expected, false, false);
        }
    }
}
