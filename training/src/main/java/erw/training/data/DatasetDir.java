package erw.training.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import erw.training.BatchSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A dataset directory: {@code manifest.json} plus safetensors shards holding {@code images}
 * (n, C, H, W) (images or latents), {@code labels} (n) and optionally {@code features} (n, T, Z), the
 * alignment targets. Shards stay memory-mapped; a batch copies only its rows.
 *
 * <pre>{"format": "erw-dataset/1", "count": N, "image_shape": [C,H,W], "num_classes": K,
 *  "feature_shape": [T,Z] | null, "encoder": "...", "normalisation": "...",
 *  "shards": [{"file": "shard-00000.safetensors", "count": n}, ...],
 *  "feature_sets": {"captions": {"file": "features-captions.safetensors", "shape": [Z], "source": "..."}, ...}}</pre>
 * Further feature sets (optional; REED's other targets, e.g. caption embeddings) each live in their
 * own file holding one tensor {@code features} (N, T, Z) or (N, Z), added to an existing dataset by
 * {@link #addFeatureSet} without rewriting its shards.
 */
public final class DatasetDir implements BatchSource, AutoCloseable {
    public static final String FORMAT = "erw-dataset/1", MANIFEST = "manifest.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final int count, numClasses;
    private final int[] imageShape, featureShape;
    private final String encoder;
    private final List<SafeTensorsFile> shards = new ArrayList<>();
    private final int[] shardStart;
    /** Further feature sets by name: the open file and the per-sample shape. */
    private final Map<String, Extra> extras = new LinkedHashMap<>();

    private record Extra(SafeTensorsFile file, int[] shape, String source) {}

    private DatasetDir(Path dir, int count, int[] imageShape, int numClasses, int[] featureShape, String encoder, int shardCount) {
        this.dir = dir;
        this.count = count;
        this.imageShape = imageShape;
        this.numClasses = numClasses;
        this.featureShape = featureShape;
        this.encoder = encoder;
        this.shardStart = new int[shardCount + 1];
    }

    /** Opens and validates a dataset directory; every error names the file and field at fault. */
    public static DatasetDir open(Path dir) {
        Path mf = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(mf)) throw new IllegalArgumentException("dataset " + dir + ": no " + MANIFEST + " (make one with `erw data fashion-mnist` or `erw data import`)");
        JsonNode m;
        try {
            m = JSON.readTree(mf.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(mf + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (m == null || !m.isObject() || !FORMAT.equals(m.path("format").asText())) throw new IllegalArgumentException(mf + ": field 'format' must be \"" + FORMAT + "\"");
        int count = integer(mf, m.path("count"), "count", 1, Integer.MAX_VALUE);
        int[] img = ints(mf, m, "image_shape", 3);
        int k = integer(mf, m.path("num_classes"), "num_classes", 1, MAX_CLASSES);
        int[] feat = m.path("feature_shape").isArray() ? ints(mf, m, "feature_shape", 2) : null;
        JsonNode sh = m.path("shards");
        if (!sh.isArray() || sh.isEmpty()) throw new IllegalArgumentException(mf + ": field 'shards' must list at least one shard");
        DatasetDir d = new DatasetDir(dir, count, img, k, feat, m.path("encoder").isTextual() ? m.path("encoder").asText() : null, sh.size());
        try {
            int at = 0;
            for (int i = 0; i < sh.size(); i++) {
                Path file = shardFile(mf, dir, sh.get(i).path("file"), i);
                int n = integer(mf, sh.get(i).path("count"), "shards[" + i + "].count", 1, Integer.MAX_VALUE);
                if ((long) at + n > count) throw new IllegalArgumentException(mf + ": shards hold more than 'count' = " + count + " samples");
                if (!Files.isRegularFile(file)) throw new IllegalArgumentException(mf + ": shard " + file + " does not exist");
                SafeTensorsFile f = SafeTensors.open(file);
                d.shards.add(f);
                check(f, "images", new long[]{n, img[0], img[1], img[2]});
                check(f, "labels", new long[]{n});
                if (feat != null) {
                    if (!f.contains("features")) throw new IllegalArgumentException(file + ": the manifest declares features but the shard has none");
                    long[] fs = f.shape("features");
                    if (fs.length != 3 || fs[0] != n) throw new IllegalArgumentException(file + ": features " + Arrays.toString(fs) + " do not match the " + n + " images of the shard");
                    if (fs[1] != feat[0] || fs[2] != feat[1]) throw new IllegalArgumentException(file + ": features have " + fs[1] + " tokens of width " + fs[2] + ", the manifest says [" + feat[0] + ", " + feat[1] + "]");
                }
                for (float l : f.readFloats("labels")) {
                    if (l < 0 || l >= k || l != Math.rint(l)) throw new IllegalArgumentException(file + ": label " + l + " is outside [0, " + k + ")");
                }
                d.shardStart[i] = at;
                at += n;
            }
            d.shardStart[sh.size()] = at;
            if (at != count) throw new IllegalArgumentException(mf + ": shards hold " + at + " samples, 'count' says " + count);
            JsonNode fsets = m.path("feature_sets");
            if (!fsets.isMissingNode() && !fsets.isNull()) {
                if (!fsets.isObject()) throw new IllegalArgumentException(mf + ": field 'feature_sets' must be an object of named sets");
                for (var it = fsets.fields(); it.hasNext(); ) {
                    var e = it.next();
                    String name = e.getKey(), field = "feature_sets." + name;
                    checkSetName(mf + ": field '" + field + "'", name);
                    JsonNode shape = e.getValue().path("shape");
                    if (!shape.isArray() || shape.size() < 1 || shape.size() > 2) throw new IllegalArgumentException(mf + ": field '" + field + ".shape' must be [T, Z] or [Z]");
                    int[] fs = ints(mf, e.getValue(), "shape", shape.size());
                    Path file = shardFile(mf, dir, e.getValue().path("file"), -1);
                    if (!Files.isRegularFile(file)) throw new IllegalArgumentException(mf + ": feature set '" + name + "': file " + file + " does not exist");
                    SafeTensorsFile f = SafeTensors.open(file);
                    long[] expect = new long[fs.length + 1];
                    expect[0] = count;
                    for (int i = 0; i < fs.length; i++) expect[i + 1] = fs[i];
                    d.extras.put(name, new Extra(f, fs, e.getValue().path("source").asText("")));
                    check(f, "features", expect);
                }
            }
            return d;
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    private static void check(SafeTensorsFile f, String name, long[] expected) {
        if (!f.contains(name)) throw new IllegalArgumentException(f.path() + ": missing tensor '" + name + "'");
        if (!Arrays.equals(f.shape(name), expected)) {
            throw new IllegalArgumentException(f.path() + ": '" + name + "' has shape " + Arrays.toString(f.shape(name)) + ", expected " + Arrays.toString(expected));
        }
    }

    private static int[] ints(Path mf, JsonNode m, String field, int len) {
        JsonNode a = m.path(field);
        if (!a.isArray() || a.size() != len) throw new IllegalArgumentException(mf + ": field '" + field + "' must be a list of " + len + " positive integers");
        int[] out = new int[len];
        long product = 1;
        for (int i = 0; i < len; i++) {
            out[i] = integer(mf, a.get(i), field + "[" + i + "]", 1, 1 << 20);
            product *= out[i];
        }
        if (product > Integer.MAX_VALUE / 4) throw new IllegalArgumentException(mf + ": field '" + field + "' " + Arrays.toString(out) + " is too large for one sample");
        return out;
    }

    /** Classes a dataset may declare (ImageNet-21k has 21,841); the model's label table has one row per class. */
    public static final int MAX_CLASSES = 1_000_000;

    /** A JSON integer (not 300.9, not "300", not beyond 32 bits) within [lo, hi], or an error naming the field. */
    private static int integer(Path mf, JsonNode v, String field, int lo, int hi) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < lo || v.asInt() > hi) {
            throw new IllegalArgumentException(mf + ": field '" + field + "' = " + (v == null || v.isMissingNode() ? "(missing)" : v)
                    + " must be an integer in [" + lo + ", " + hi + "]");
        }
        return v.asInt();
    }

    /** A feature set's name: letters, digits, '_' and '-', not the tensors every shard holds. */
    static void checkSetName(String where, String name) {
        if (!name.matches("[A-Za-z0-9_\\-]+") || name.equals("images") || name.equals("labels") || name.equals(FEATURES)) {
            throw new IllegalArgumentException(where + ": feature set name '" + name + "' must be letters, digits, '_' or '-' and not images, labels or " + FEATURES);
        }
    }

    /** A shard (i >= 0) or feature-set file (i < 0) named relative to the dataset directory, inside it (no absolute paths, no '..'). */
    private static Path shardFile(Path mf, Path dir, JsonNode v, int i) {
        if (v == null || !v.isTextual() || v.asText().isEmpty()) throw new IllegalArgumentException(mf + ": field '" + (i >= 0 ? "shards[" + i + "]" : "feature_sets.*") + ".file' must be a file name");
        Path rel;
        try {
            rel = Path.of(v.asText());
        } catch (java.nio.file.InvalidPathException e) {
            throw new IllegalArgumentException(mf + ": field 'shards[" + i + "].file' = " + v + " is not a valid path");
        }
        Path file = dir.resolve(rel).normalize();
        if (rel.isAbsolute() || !file.startsWith(dir.normalize())) {
            throw new IllegalArgumentException(mf + ": field 'shards[" + i + "].file' = " + v + " points outside the dataset directory");
        }
        return file;
    }

    /** Writes a one-shard dataset (manifest last, so a half-written directory never opens). */
    public static void write(Path dir, float[] images, int[] imageShape, float[] labels, int numClasses, float[] features, int[] featureShape,
                             String encoder, String normalisation) {
        int n = labels.length;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        t.put("images", new SafeTensors.Tensor(new long[]{n, imageShape[0], imageShape[1], imageShape[2]}, images));
        t.put("labels", new SafeTensors.Tensor(new long[]{n}, labels));
        if (features != null) t.put("features", new SafeTensors.Tensor(new long[]{n, featureShape[0], featureShape[1]}, features));
        String shard = "shard-00000.safetensors";
        SafeTensors.write(dir.resolve(shard), t, Map.of("format", FORMAT));
        ObjectNode m = JSON.createObjectNode();
        m.put("format", FORMAT).put("count", n);
        ArrayNode is = m.putArray("image_shape");
        for (int v : imageShape) is.add(v);
        m.put("num_classes", numClasses);
        if (features != null) {
            ArrayNode fs = m.putArray("feature_shape");
            for (int v : featureShape) fs.add(v);
        } else {
            m.putNull("feature_shape");
        }
        if (encoder != null) m.put("encoder", encoder);
        else m.putNull("encoder");
        m.put("normalisation", normalisation);
        m.putArray("shards").addObject().put("file", shard).put("count", n);
        try {
            Path tmp = Files.createTempFile(dir, ".manifest", ".tmp");
            Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m));
            Files.move(tmp, dir.resolve(MANIFEST), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve(MANIFEST) + ": " + e.getMessage(), e);
        }
    }

    /** The manifest's {@code feature_sets} entry (null when absent), to restore after {@link #write} rewrites the manifest. */
    public static JsonNode featureSetsEntry(Path dir) {
        try {
            JsonNode m = JSON.readTree(dir.resolve(MANIFEST).toFile());
            JsonNode e = m == null ? null : m.get("feature_sets");
            return e == null || e.isNull() ? null : e.deepCopy();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve(MANIFEST) + ": " + e.getMessage(), e);
        }
    }

    /** Puts a {@link #featureSetsEntry} back into the manifest (atomically); nothing for null. */
    public static void restoreFeatureSetsEntry(Path dir, JsonNode entry) {
        if (entry == null) return;
        Path mf = dir.resolve(MANIFEST);
        try {
            ObjectNode m = (ObjectNode) JSON.readTree(mf.toFile());
            m.set("feature_sets", entry);
            Path tmp = Files.createTempFile(dir, ".manifest", ".tmp");
            Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m));
            Files.move(tmp, mf, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot update " + mf + ": " + e.getMessage(), e);
        }
        open(dir).close(); // still valid
    }

    @Override public int count() { return count; }
    @Override public int[] imageShape() { return imageShape.clone(); }
    @Override public int numClasses() { return numClasses; }
    @Override public boolean hasFeatures() { return featureShape != null; }
    @Override public int[] featureShape() { return featureShape == null ? null : featureShape.clone(); }

    public String encoderName() {
        return encoder;
    }

    public Path directory() {
        return dir;
    }

    @Override
    public void batch(int[] indices, float[] images, float[] labels, float[] features) {
        int per = imageShape[0] * imageShape[1] * imageShape[2];
        float[] one = new float[1];
        for (int i = 0; i < indices.length; i++) {
            int r = row(indices[i]), s = shardOf(r);
            long row = r - shardStart[s];
            SafeTensorsFile f = shards.get(s);
            f.readFloats("images", row * per, per, images, i * per);
            f.readFloats("labels", row, 1, one, 0);
            labels[i] = one[0];
        }
        if (features != null && hasFeatures()) features(FEATURES, indices, features);
    }

    @Override
    public List<String> featureSets() {
        List<String> l = new ArrayList<>(BatchSource.super.featureSets());
        l.addAll(extras.keySet());
        return l;
    }

    @Override
    public int[] featureShape(String set) {
        Extra e = extras.get(set);
        return e != null ? e.shape.clone() : BatchSource.super.featureShape(set);
    }

    /** Where a further feature set came from (the manifest's {@code source}), or null. */
    public String featureSource(String set) {
        Extra e = extras.get(set);
        return e == null ? null : e.source;
    }

    @Override
    public void features(String set, int[] indices, float[] out) {
        if (FEATURES.equals(set) && hasFeatures()) {
            int fper = featureShape[0] * featureShape[1];
            for (int i = 0; i < indices.length; i++) {
                int r = row(indices[i]);
                int s = shardOf(r);
                shards.get(s).readFloats("features", (long) (r - shardStart[s]) * fper, fper, out, i * fper);
            }
            return;
        }
        Extra e = extras.get(set);
        if (e == null) throw new IllegalArgumentException("dataset " + dir + " has no feature set '" + set + "' (it has " + featureSets() + ")");
        int per = BatchSource.size(e.shape);
        for (int i = 0; i < indices.length; i++) e.file.readFloats("features", (long) row(indices[i]) * per, per, out, i * per);
    }

    private int row(int r) {
        if (r < 0 || r >= count) throw new IllegalArgumentException("dataset " + dir + ": index " + r + " outside [0, " + count + ")");
        return r;
    }

    private int shardOf(int r) {
        int s = 0;
        while (r >= shardStart[s + 1]) s++;
        return s;
    }

    /**
     * Adds a feature set to an existing dataset: writes {@code features-<name>.safetensors} (one
     * tensor {@code features}, (count, shape...)) and then the manifest (atomically), so a dataset is
     * never left naming a file that is not complete. Refuses a name already present unless {@code replace}.
     */
    public static void addFeatureSet(Path dir, String name, float[] values, int[] shape, String source, boolean replace) {
        Path mf = dir.resolve(MANIFEST);
        checkSetName("feature set", name);
        int count;
        try (DatasetDir d = open(dir)) {
            count = d.count;
            if (!replace && d.extras.containsKey(name)) throw new IllegalArgumentException("dataset " + dir + " already has a feature set '" + name + "' (pass --replace to overwrite it)");
        }
        if (shape.length < 1 || shape.length > 2) throw new IllegalArgumentException("feature set '" + name + "': per-sample shape must be (T, Z) or (Z), got " + Arrays.toString(shape));
        long per = 1;
        for (int v : shape) per *= v;
        if (values.length != count * per) throw new IllegalArgumentException("feature set '" + name + "' holds " + values.length / Math.max(per, 1) + " rows, the dataset " + count);
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) throw new IllegalArgumentException("feature set '" + name + "': value " + values[i] + " at row " + i / per + " is not finite");
        }
        long[] full = new long[shape.length + 1];
        full[0] = count;
        for (int i = 0; i < shape.length; i++) full[i + 1] = shape[i];
        String file = "features-" + name + ".safetensors";
        SafeTensors.write(dir.resolve(file), Map.of("features", new SafeTensors.Tensor(full, values)), Map.of("format", FORMAT, "source", source == null ? "" : source));
        try {
            ObjectNode m = (ObjectNode) JSON.readTree(mf.toFile());
            ObjectNode sets = m.has("feature_sets") && m.get("feature_sets").isObject() ? (ObjectNode) m.get("feature_sets") : m.putObject("feature_sets");
            ObjectNode e = sets.putObject(name);
            e.put("file", file);
            ArrayNode sh = e.putArray("shape");
            for (int v : shape) sh.add(v);
            e.put("source", source == null ? "" : source);
            Path tmp = Files.createTempFile(dir, ".manifest", ".tmp");
            Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m));
            Files.move(tmp, mf, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot update " + mf + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        for (Extra e : extras.values()) {
            try {
                e.file.close();
            } catch (SafeTensorsException ignored) {
                // already closed
            }
        }
        for (SafeTensorsFile f : shards) {
            try {
                f.close();
            } catch (SafeTensorsException ignored) {
                // already closed
            }
        }
    }
}
