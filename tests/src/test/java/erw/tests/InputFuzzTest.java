package erw.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import erw.model.io.Npy;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import erw.training.data.DatasetDir;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded mutations of the files users hand to erw (safetensors, .npy, dataset manifests): every
 * mutant is either read as valid or refused with one of the user-facing exceptions, never a crash
 * (index, arithmetic, allocation or parser errors). The seed and the mutation are in every failure.
 */
class InputFuzzTest {
    static final long SEED = 20261130;
    static final int SAFETENSORS = 700, NPY = 500, MANIFESTS = 400;

    /** What a user may see: these become one line and exit code 2 in the CLI. */
    static boolean userFacing(Throwable t) {
        return t instanceof IllegalArgumentException || t instanceof SafeTensorsException || t instanceof UncheckedIOException;
    }

    interface Reader {
        void read(Path p) throws Exception;
    }

    static int[] probe(Path file, byte[] mutant, String what, Reader reader) throws Exception {
        Files.write(file, mutant);
        try {
            reader.read(file);
            return new int[]{1, 0};
        } catch (Throwable t) {
            if (!userFacing(t)) fail(what + ": " + t + " (not a user-facing error)", t);
            String m = String.valueOf(t.getMessage());
            if (m.isBlank() || m.contains("\n")) fail(what + ": message is not one line: " + m);
            return new int[]{0, 1};
        }
    }

    static byte[] mutate(byte[] src, SplittableRandom r, int headerEnd, StringBuilder log) {
        byte[] b = src.clone();
        switch (r.nextInt(6)) {
            case 0 -> { // flip bytes, mostly in the header
                int k = 1 + r.nextInt(4);
                for (int i = 0; i < k; i++) {
                    int at = r.nextInt(4) > 0 ? r.nextInt(Math.max(1, headerEnd)) : r.nextInt(b.length);
                    b[at] = (byte) r.nextInt(256);
                    log.append("flip@").append(at).append(' ');
                }
            }
            case 1 -> { // truncate
                int len = r.nextInt(b.length);
                log.append("truncate to ").append(len);
                b = java.util.Arrays.copyOf(b, len);
            }
            case 2 -> { // grow
                int extra = 1 + r.nextInt(64);
                log.append("append ").append(extra);
                b = java.util.Arrays.copyOf(b, b.length + extra);
            }
            case 3 -> { // replace a number of the header with another one
                String h = new String(b, 0, Math.min(headerEnd, b.length), StandardCharsets.ISO_8859_1);
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\d+").matcher(h);
                java.util.List<int[]> spans = new java.util.ArrayList<>();
                while (m.find()) spans.add(new int[]{m.start(), m.end()});
                if (spans.isEmpty()) break;
                int[] s = spans.get(r.nextInt(spans.size()));
                String[] values = {"0", "1", "-1", "4294967296", "9223372036854775807", "99999999999999999999", "3.5", "1e30", "2147483647", "7"};
                String v = values[r.nextInt(values.length)];
                log.append("number@").append(s[0]).append("=").append(v);
                String nh = h.substring(0, s[0]) + v + h.substring(s[1]);
                b = splice(b, headerEnd, nh.getBytes(StandardCharsets.ISO_8859_1), r.nextBoolean());
            }
            case 4 -> { // replace a string of the header
                String h = new String(b, 0, Math.min(headerEnd, b.length), StandardCharsets.ISO_8859_1);
                String[] from = {"F32", "float32", "<f4", "shape", "data_offsets", "dtype", "False", "descr"};
                String[] to = {"F64", "I64", "BF16", "U8", "F16", "X", "", "True", "'>f4'", "<f8", "<i8", "|b1", "shap"};
                String f = from[r.nextInt(from.length)], t = to[r.nextInt(to.length)];
                if (!h.contains(f)) break;
                log.append(f).append("->").append(t);
                b = splice(b, headerEnd, h.replaceFirst(java.util.regex.Pattern.quote(f), t).getBytes(StandardCharsets.ISO_8859_1), r.nextBoolean());
            }
            default -> { // delete a span
                int at = r.nextInt(b.length), len = 1 + r.nextInt(Math.min(16, b.length - at));
                log.append("delete ").append(at).append('+').append(len);
                byte[] n = new byte[b.length - len];
                System.arraycopy(b, 0, n, 0, at);
                System.arraycopy(b, at + len, n, at, b.length - at - len);
                b = n;
            }
        }
        return b;
    }

    /** A new header text in place of the old one; with fixLength the length prefix is updated so the parser reads it all. */
    static byte[] splice(byte[] b, int headerEnd, byte[] header, boolean fixLength) {
        byte[] n = new byte[header.length + b.length - Math.min(headerEnd, b.length)];
        System.arraycopy(header, 0, n, 0, header.length);
        System.arraycopy(b, Math.min(headerEnd, b.length), n, header.length, b.length - Math.min(headerEnd, b.length));
        if (fixLength && n.length >= 8 && n[0] != (byte) 0x93) {
            long len = header.length - 8;
            for (int i = 0; i < 8; i++) n[i] = (byte) (len >>> (8 * i));
        }
        return n;
    }

    @Test
    void safetensorsMutants(@TempDir Path dir) throws Exception {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        t.put("a", new SafeTensors.Tensor(new long[]{2, 3}, new float[]{1, 2, 3, 4, 5, 6}));
        t.put("b", new SafeTensors.Tensor(new long[]{4}, new float[]{7, 8, 9, 10}));
        t.put("c", new SafeTensors.Tensor(new long[]{1, 1, 2}, new float[]{11, 12}));
        Path good = dir.resolve("good.safetensors");
        SafeTensors.write(good, t, Map.of("erw.step", "3"));
        byte[] src = Files.readAllBytes(good);
        int headerEnd = (int) (8 + java.nio.ByteBuffer.wrap(src, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong());
        SplittableRandom r = new SplittableRandom(SEED);
        int ok = 0, refused = 0;
        for (int i = 0; i < SAFETENSORS; i++) {
            StringBuilder log = new StringBuilder();
            byte[] m = mutate(src, r, headerEnd, log);
            int[] res = probe(dir.resolve("m.safetensors"), m, "safetensors mutant " + i + " (seed " + SEED + ", " + log + ")", p -> {
                try (SafeTensorsFile f = SafeTensors.open(p)) {
                    for (String n : f.names()) {
                        f.readFloats(n);
                        if (f.numel(n) > 1) f.readFloats(n, 1, (int) f.numel(n) - 1, new float[(int) f.numel(n)], 0);
                    }
                }
            });
            ok += res[0];
            refused += res[1];
        }
        assertTrue(refused > SAFETENSORS / 2 && ok > 0, "mutants: " + ok + " read, " + refused + " refused");
    }

    @Test
    void npyMutants(@TempDir Path dir) throws Exception {
        Path good = dir.resolve("good.npy");
        Npy.write(good, new long[]{3, 2, 2}, new float[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
        byte[] src = Files.readAllBytes(good);
        int headerEnd = 10 + ((src[8] & 0xff) | (src[9] & 0xff) << 8);
        SplittableRandom r = new SplittableRandom(SEED + 1);
        int ok = 0, refused = 0;
        for (int i = 0; i < NPY; i++) {
            StringBuilder log = new StringBuilder();
            byte[] m = mutate(src, r, headerEnd, log);
            int[] res = probe(dir.resolve("m.npy"), m, "npy mutant " + i + " (seed " + (SEED + 1) + ", " + log + ")", p -> Npy.read(p));
            ok += res[0];
            refused += res[1];
        }
        assertTrue(refused > NPY / 3 && ok > 0, "mutants: " + ok + " read, " + refused + " refused");
    }

    @Test
    void manifestMutants(@TempDir Path dir) throws Exception {
        Path ds = dir.resolve("ds");
        int n = 6;
        float[] img = new float[n * 16], lab = new float[n], feat = new float[n * 4 * 3];
        for (int i = 0; i < n; i++) lab[i] = i % 2;
        DatasetDir.write(ds, img, new int[]{1, 4, 4}, lab, 2, feat, new int[]{4, 3}, "enc", "none");
        Files.writeString(dir.resolve("outside.safetensors"), "x");
        String manifest = Files.readString(ds.resolve(DatasetDir.MANIFEST));
        String[] keys = {"count", "image_shape", "num_classes", "feature_shape", "shards", "file", "format"};
        String[] values = {"300.9", "-1", "0", "4294967297", "\"6\"", "null", "[]", "[1,4]", "[1,4,4,4]", "[0,4,4]", "[1,4294967296,4]", "{}", "true",
                "\"../outside.safetensors\"", "\"/etc/passwd\"", "\"shard-00001.safetensors\"", "[{\"file\": \"shard-00000.safetensors\", \"count\": 7}]",
                "[{\"file\": \"shard-00000.safetensors\", \"count\": 2.5}]", "1e10", "2000000000", "[4, 3]", "[4, 0]", "\"erw-dataset/2\""};
        SplittableRandom r = new SplittableRandom(SEED + 2);
        int ok = 0, refused = 0;
        for (int i = 0; i < MANIFESTS; i++) {
            String m = manifest;
            StringBuilder log = new StringBuilder();
            for (int k = 1 + r.nextInt(2); k > 0; k--) {
                String key = keys[r.nextInt(keys.length)], v = values[r.nextInt(values.length)];
                java.util.regex.Matcher mm = java.util.regex.Pattern.compile("\"" + key + "\"\\s*:\\s*(\\[[^\\]]*\\]|\\[\\s*\\{[^\\]]*\\]|\"[^\"]*\"|[^,}\\n]+)").matcher(m);
                if (!mm.find()) continue;
                log.append(key).append('=').append(v).append(' ');
                m = m.substring(0, mm.start(1)) + v + m.substring(mm.end(1));
            }
            if (r.nextInt(10) == 0) {
                int cut = r.nextInt(m.length());
                log.append("cut@").append(cut);
                m = m.substring(0, cut);
            }
            Files.writeString(ds.resolve(DatasetDir.MANIFEST), m);
            String what = "manifest mutant " + i + " (seed " + (SEED + 2) + ", " + log + ")";
            try (DatasetDir d = DatasetDir.open(ds)) {
                float[] x = new float[d.count() * 16], y = new float[d.count()], z = d.hasFeatures() ? new float[d.count() * 12] : null;
                int[] idx = new int[d.count()];
                for (int j = 0; j < idx.length; j++) idx[j] = j;
                d.batch(idx, x, y, z);
                ok++;
            } catch (Throwable t) {
                if (!userFacing(t)) fail(what + ": " + t + " (not a user-facing error)", t);
                if (t.getMessage().contains("\n")) fail(what + ": message is not one line");
                refused++;
            }
        }
        Files.writeString(ds.resolve(DatasetDir.MANIFEST), manifest);
        DatasetDir.open(ds).close();
        assertTrue(refused > MANIFESTS / 2 && ok > 0, "mutants: " + ok + " read, " + refused + " refused");
    }
}
