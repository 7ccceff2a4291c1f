package erw.training.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import erw.training.BatchSource;
import erw.training.BatchSource.Posterior;
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
 * <p><b>Posterior moments</b> (SPEC 4b; REPA's and ERW's ImageNet data). A dataset of format
 * {@value #FORMAT_MOMENTS} holds a VAE encoder's posterior per sample: {@code images} is the
 * posterior mean and each shard has a second tensor {@value #STD} (n, C, H, W), the posterior std
 * (not the log-variance), and the manifest has
 * {@code "posterior": {"scale": 0.18215, "shift": 0.0, "vae": "..." | null}}. Training draws
 * {@code z = (mean + std * eps) * scale + shift} afresh at every step ({@link #moments});
 * {@link #batch} gives {@code mean * scale + shift}, the deterministic latent that evaluation
 * (evaluator training, the FD reference, CKNNA), encoder features, inspection and fingerprints use.
 * The format is 2, not 1, so that an erw that predates moments refuses such a dataset instead of
 * training on unscaled means. Write one with {@link #momentsWriter} (shard by shard) or
 * {@link #writeMoments} (arrays in memory).
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
    public static final String FORMAT = "erw-dataset/1", FORMAT_MOMENTS = "erw-dataset/2", MANIFEST = "manifest.json";
    /** The shard tensor holding the posterior std of a moments dataset (its {@code images} are the means). */
    public static final String STD = "posterior_std";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final int count, numClasses;
    private final int[] imageShape, featureShape;
    private final String encoder;
    /** Scale and shift of a dataset of posterior moments, null for plain images or latents. */
    private final Posterior posterior;
    private final List<SafeTensorsFile> shards = new ArrayList<>();
    private final int[] shardStart;
    /** Further feature sets by name: the open file and the per-sample shape. */
    private final Map<String, Extra> extras = new LinkedHashMap<>();

    private record Extra(SafeTensorsFile file, int[] shape, String source) {}

    private DatasetDir(Path dir, int count, int[] imageShape, int numClasses, int[] featureShape, String encoder, Posterior posterior, int shardCount) {
        this.dir = dir;
        this.posterior = posterior;
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
        if (m == null || !m.isObject() || !(FORMAT.equals(m.path("format").asText()) || FORMAT_MOMENTS.equals(m.path("format").asText()))) {
            throw new IllegalArgumentException(mf + ": field 'format' must be \"" + FORMAT + "\" (or \"" + FORMAT_MOMENTS + "\" for posterior moments)");
        }
        Posterior post = posterior(mf, m);
        int count = integer(mf, m.path("count"), "count", 1, Integer.MAX_VALUE);
        int[] img = ints(mf, m, "image_shape", 3);
        int k = integer(mf, m.path("num_classes"), "num_classes", 1, MAX_CLASSES);
        int[] feat = m.path("feature_shape").isArray() ? ints(mf, m, "feature_shape", 2) : null;
        JsonNode sh = m.path("shards");
        if (!sh.isArray() || sh.isEmpty()) throw new IllegalArgumentException(mf + ": field 'shards' must list at least one shard");
        DatasetDir d = new DatasetDir(dir, count, img, k, feat, m.path("encoder").isTextual() ? m.path("encoder").asText() : null, post, sh.size());
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
                if (post != null) check(f, STD, new long[]{n, img[0], img[1], img[2]});
                else if (f.contains(STD)) throw new IllegalArgumentException(file + ": holds posterior moments ('" + STD + "') but " + mf + " has no field 'posterior'");
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

    /**
     * The manifest's {@code posterior} (format 2 only, and required there): finite numbers
     * {@code scale} (not 0) and {@code shift}, optional text {@code vae}; null for format 1.
     */
    private static Posterior posterior(Path mf, JsonNode m) {
        JsonNode p = m.path("posterior");
        boolean moments = FORMAT_MOMENTS.equals(m.path("format").asText());
        if (!moments) {
            if (!p.isMissingNode() && !p.isNull()) throw new IllegalArgumentException(mf + ": field 'posterior' needs \"format\": \"" + FORMAT_MOMENTS + "\" (format " + m.path("format") + " holds plain images or latents)");
            return null;
        }
        if (!p.isObject()) throw new IllegalArgumentException(mf + ": field 'posterior' must be {\"scale\": S, \"shift\": B} in a " + FORMAT_MOMENTS + " dataset");
        JsonNode scale = p.path("scale"), shift = p.path("shift"), vae = p.path("vae");
        if (!scale.isNumber() || !Float.isFinite(scale.floatValue()) || scale.floatValue() == 0) {
            throw new IllegalArgumentException(mf + ": field 'posterior.scale' = " + (scale.isMissingNode() ? "(missing)" : scale) + " must be a finite number other than 0");
        }
        if (!shift.isNumber() || !Float.isFinite(shift.floatValue())) {
            throw new IllegalArgumentException(mf + ": field 'posterior.shift' = " + (shift.isMissingNode() ? "(missing)" : shift) + " must be a finite number");
        }
        if (!vae.isMissingNode() && !vae.isNull() && !vae.isTextual()) throw new IllegalArgumentException(mf + ": field 'posterior.vae' = " + vae + " must be text or null");
        return new Posterior(scale.floatValue(), shift.floatValue(), vae.isTextual() ? vae.asText() : null);
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
        createDirectories(dir);
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        t.put("images", new SafeTensors.Tensor(new long[]{n, imageShape[0], imageShape[1], imageShape[2]}, images));
        t.put("labels", new SafeTensors.Tensor(new long[]{n}, labels));
        if (features != null) t.put("features", new SafeTensors.Tensor(new long[]{n, featureShape[0], featureShape[1]}, features));
        String shard = shardName(0);
        SafeTensors.write(dir.resolve(shard), t, Map.of("format", FORMAT));
        writeManifest(dir, manifest(n, imageShape, numClasses, features != null ? featureShape : null, encoder, normalisation, null, List.of(shard), List.of(n)));
    }

    private static String shardName(int i) {
        return String.format(java.util.Locale.ROOT, "shard-%05d.safetensors", i);
    }

    private static void createDirectories(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The manifest {@link #open} reads: format 1, or format 2 with {@code posterior} when that is not null. */
    private static ObjectNode manifest(int count, int[] imageShape, int numClasses, int[] featureShape, String encoder, String normalisation, Posterior posterior,
                                       List<String> shards, List<Integer> counts) {
        ObjectNode m = JSON.createObjectNode();
        m.put("format", posterior == null ? FORMAT : FORMAT_MOMENTS).put("count", count);
        ArrayNode is = m.putArray("image_shape");
        for (int v : imageShape) is.add(v);
        m.put("num_classes", numClasses);
        if (featureShape != null) {
            ArrayNode fs = m.putArray("feature_shape");
            for (int v : featureShape) fs.add(v);
        } else {
            m.putNull("feature_shape");
        }
        if (encoder != null) m.put("encoder", encoder);
        else m.putNull("encoder");
        m.put("normalisation", normalisation);
        if (posterior != null) {
            ObjectNode p = m.putObject("posterior").put("scale", posterior.scale()).put("shift", posterior.shift());
            if (posterior.vae() != null) p.put("vae", posterior.vae());
            else p.putNull("vae");
        }
        ArrayNode sh = m.putArray("shards");
        for (int i = 0; i < shards.size(); i++) sh.addObject().put("file", shards.get(i)).put("count", counts.get(i));
        return m;
    }

    /** Replaces the manifest atomically (a temporary file renamed over it). */
    private static void writeManifest(Path dir, ObjectNode m) {
        try {
            Path tmp = Files.createTempFile(dir, ".manifest", ".tmp");
            Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m));
            Files.move(tmp, dir.resolve(MANIFEST), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve(MANIFEST) + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes a dataset of posterior moments held in memory, through a {@link #momentsWriter} (so in
     * shards of {@link MomentsWriter#DEFAULT_SHARD_BYTES}): {@code mean} and {@code std} (n, C, H, W)
     * each, {@code labels} (n), optional {@code features} (n, T, Z). Checks what
     * {@link MomentsWriter#append} checks.
     */
    public static void writeMoments(Path dir, float[] mean, float[] std, int[] imageShape, float[] labels, int numClasses, Posterior posterior,
                                    float[] features, int[] featureShape, String encoder, String normalisation) {
        try (MomentsWriter w = momentsWriter(dir, imageShape, numClasses, posterior)) {
            if (features != null) w.features(featureShape, encoder);
            w.normalisation(normalisation).append(mean, std, labels, features);
            w.finish();
        }
    }

    /**
     * A writer of a dataset of posterior moments that adds samples batch by batch and never holds
     * more than one shard (for {@code erw data encode}: an image folder through a VAE encoder).
     *
     * <pre>{@code
     * var post = new BatchSource.Posterior(0.18215f, 0f, "stabilityai/sd-vae-ft-mse");
     * try (DatasetDir.MomentsWriter w = DatasetDir.momentsWriter(out, new int[]{4, 32, 32}, 1000, post)
     *         .normalisation("center crop 256, pixels/127.5 - 1")) {
     *     for (...) w.append(mean, std, labels);   // (b, 4, 32, 32) twice and (b), any b >= 1
     *     w.finish();                               // last shard, then manifest.json (atomically)
     * }
     * }</pre>
     *
     * @param dir        created if missing; a {@code manifest.json} already there is removed when the
     *                   first shard is written, so the directory is no dataset until {@link MomentsWriter#finish}
     * @param imageShape (C, H, W) of one latent, e.g. (4, 32, 32) for SD-VAE at 256 px
     * @param numClasses labels must be integers in [0, numClasses)
     * @param posterior  scale and shift from the VAE's latents into the model's space (0.18215 and 0 for SD-VAE)
     */
    public static MomentsWriter momentsWriter(Path dir, int[] imageShape, int numClasses, Posterior posterior) {
        return new MomentsWriter(dir, imageShape, numClasses, posterior);
    }

    /**
     * Writes a {@value #FORMAT_MOMENTS} dataset shard by shard; see {@link #momentsWriter}. Options
     * ({@link #shardSamples}, {@link #features}, {@link #normalisation}) are set before the first
     * {@link #append}. Shards are {@code shard-NNNNN.safetensors} with {@code images} (the means),
     * {@value #STD}, {@code labels} and optionally {@code features}, each written atomically once full.
     * {@link #finish} writes the last shard and then the manifest; {@link #close} without
     * {@link #finish} (an error, an interrupted encode) deletes the shards this writer wrote, and
     * leaves the directory without a manifest. Not thread-safe.
     */
    public static final class MomentsWriter implements AutoCloseable {
        /** Default shard size: about 256 MiB of moments per shard (8,192 samples of 4x32x32). */
        public static final long DEFAULT_SHARD_BYTES = 256L << 20;

        private final Path dir;
        private final int[] imageShape;
        private final int numClasses, per;
        private final Posterior posterior;
        private int[] featureShape;
        private int fper;
        private String encoder, normalisation = "posterior moments";
        private int shardSamples;
        private float[] mean, std, labels, features;
        private int filled;
        private long total;
        private final List<String> written = new ArrayList<>();
        private final List<Integer> counts = new ArrayList<>();
        private boolean started, finished;

        private MomentsWriter(Path dir, int[] imageShape, int numClasses, Posterior posterior) {
            if (imageShape == null || imageShape.length != 3 || imageShape[0] < 1 || imageShape[1] < 1 || imageShape[2] < 1) {
                throw new IllegalArgumentException("moments dataset " + dir + ": image shape " + Arrays.toString(imageShape) + " must be (C, H, W), all >= 1");
            }
            if (numClasses < 1 || numClasses > MAX_CLASSES) throw new IllegalArgumentException("moments dataset " + dir + ": " + numClasses + " classes, must be in [1, " + MAX_CLASSES + "]");
            if (posterior == null) throw new IllegalArgumentException("moments dataset " + dir + ": a posterior (scale, shift) is required");
            long p = (long) imageShape[0] * imageShape[1] * imageShape[2];
            if (p > Integer.MAX_VALUE / 4) throw new IllegalArgumentException("moments dataset " + dir + ": image shape " + Arrays.toString(imageShape) + " is too large for one sample");
            this.dir = dir;
            this.imageShape = imageShape.clone();
            this.numClasses = numClasses;
            this.posterior = posterior;
            this.per = (int) p;
            this.shardSamples = shardSamplesFor(DEFAULT_SHARD_BYTES);
        }

        private int shardSamplesFor(long bytes) {
            return (int) Math.max(1, Math.min(Integer.MAX_VALUE / Math.max(per, Math.max(fper, 1)), bytes / (8L * per + 4 + 4L * fper)));
        }

        private void beforeAppend(String what) {
            if (started) throw new IllegalStateException(what + " must be set before the first append");
        }

        /** Samples per shard (default: about {@link #DEFAULT_SHARD_BYTES} per shard); the last shard may hold fewer. */
        public MomentsWriter shardSamples(int n) {
            beforeAppend("shardSamples");
            if (n < 1) throw new IllegalArgumentException("shardSamples " + n + " must be >= 1");
            shardSamples = n;
            return this;
        }

        /** Declares per-token target features (T, Z) in the shards and the encoder that made them; then every append passes them. */
        public MomentsWriter features(int[] shape, String encoderName) {
            beforeAppend("features");
            if (shape == null || shape.length != 2 || shape[0] < 1 || shape[1] < 1) throw new IllegalArgumentException("feature shape " + Arrays.toString(shape) + " must be (T, Z), both >= 1");
            boolean defaultSize = shardSamples == shardSamplesFor(DEFAULT_SHARD_BYTES);
            featureShape = shape.clone();
            fper = shape[0] * shape[1];
            encoder = encoderName;
            if (defaultSize) shardSamples = shardSamplesFor(DEFAULT_SHARD_BYTES);
            return this;
        }

        /** What the manifest's {@code normalisation} says (how images became latents, e.g. "center crop 256"). */
        public MomentsWriter normalisation(String text) {
            beforeAppend("normalisation");
            normalisation = text;
            return this;
        }

        /** Appends samples without features: {@code mean} and {@code std} (b, C, H, W), {@code labels} (b). */
        public MomentsWriter append(float[] mean, float[] std, float[] labels) {
            return append(mean, std, labels, null);
        }

        /**
         * Appends b = labels.length samples: {@code mean} and {@code std} (b, C, H, W) each, labels
         * (integers in [0, numClasses)), and {@code features} (b, T, Z) when {@link #features} was
         * declared (null otherwise). Refuses, naming the sample (counted over the whole dataset), a
         * non-finite value, a negative std (a log-variance passed as std?) or a bad label. Full
         * shards are written as they fill.
         */
        public MomentsWriter append(float[] mean, float[] std, float[] labels, float[] features) {
            if (finished) throw new IllegalStateException("moments dataset " + dir + ": already finished");
            int b = labels.length;
            if (mean.length != (long) b * per || std.length != (long) b * per) {
                throw new IllegalArgumentException("moments dataset " + dir + ": " + b + " labels need " + (long) b * per + " mean and std values of " + Arrays.toString(imageShape)
                        + ", got " + mean.length + " and " + std.length);
            }
            if ((features != null) != (featureShape != null) || features != null && features.length != (long) b * fper) {
                throw new IllegalArgumentException("moments dataset " + dir + ": " + (featureShape == null ? "features were not declared (call features(shape, encoder) first)"
                        : "features must hold " + (long) b * fper + " values for " + b + " samples of " + Arrays.toString(featureShape) + ", got " + (features == null ? "none" : features.length)));
            }
            if (total + b > Integer.MAX_VALUE) throw new IllegalArgumentException("moments dataset " + dir + ": more than " + Integer.MAX_VALUE + " samples");
            for (int i = 0; i < b; i++) {
                long at = total + i;
                float l = labels[i];
                if (!(l >= 0 && l < numClasses && l == Math.rint(l))) throw new IllegalArgumentException("moments dataset " + dir + ": label " + l + " of sample " + at + " is not a class id in [0, " + numClasses + ")");
                for (int j = i * per; j < (i + 1) * per; j++) {
                    if (!Float.isFinite(mean[j])) throw new IllegalArgumentException("moments dataset " + dir + ": mean " + mean[j] + " of sample " + at + " is not finite");
                    if (!(std[j] >= 0) || std[j] == Float.POSITIVE_INFINITY) {
                        throw new IllegalArgumentException("moments dataset " + dir + ": std " + std[j] + " of sample " + at + " is not a finite value >= 0 (expected [mean, std], not a log-variance)");
                    }
                }
                if (features != null) {
                    for (int j = i * fper; j < (i + 1) * fper; j++) {
                        if (!Float.isFinite(features[j])) throw new IllegalArgumentException("moments dataset " + dir + ": feature " + features[j] + " of sample " + at + " is not finite");
                    }
                }
            }
            if (!started) {
                createDirectories(dir);
                try {
                    Files.deleteIfExists(dir.resolve(MANIFEST)); // not a dataset until finish()
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot remove the old " + dir.resolve(MANIFEST) + ": " + e.getMessage(), e);
                }
                started = true;
            }
            int done = 0;
            while (done < b) {
                int take = Math.min(b - done, shardSamples - filled);
                reserve(filled + take);
                System.arraycopy(mean, done * per, this.mean, filled * per, take * per);
                System.arraycopy(std, done * per, this.std, filled * per, take * per);
                System.arraycopy(labels, done, this.labels, filled, take);
                if (features != null) System.arraycopy(features, done * fper, this.features, filled * fper, take * fper);
                filled += take;
                done += take;
                total += take;
                if (filled == shardSamples) flush();
            }
            return this;
        }

        /** Grows the shard buffers (doubling, at most one shard) so that small datasets stay small in memory. */
        private void reserve(int rows) {
            int have = labels == null ? 0 : labels.length;
            if (rows <= have) return;
            int cap = (int) Math.min(shardSamples, Math.max(rows, Math.max(64L, 2L * have)));
            mean = mean == null ? new float[cap * per] : Arrays.copyOf(mean, cap * per);
            std = std == null ? new float[cap * per] : Arrays.copyOf(std, cap * per);
            labels = labels == null ? new float[cap] : Arrays.copyOf(labels, cap);
            if (featureShape != null) features = features == null ? new float[cap * fper] : Arrays.copyOf(features, cap * fper);
        }

        private void flush() {
            if (filled == 0) return;
            String name = shardName(written.size());
            int n = filled;
            Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
            t.put("images", new SafeTensors.Tensor(new long[]{n, imageShape[0], imageShape[1], imageShape[2]}, n == labels.length ? mean : Arrays.copyOf(mean, n * per)));
            t.put(STD, new SafeTensors.Tensor(new long[]{n, imageShape[0], imageShape[1], imageShape[2]}, n == labels.length ? std : Arrays.copyOf(std, n * per)));
            t.put("labels", new SafeTensors.Tensor(new long[]{n}, n == labels.length ? labels : Arrays.copyOf(labels, n)));
            if (featureShape != null) t.put("features", new SafeTensors.Tensor(new long[]{n, featureShape[0], featureShape[1]}, n == labels.length ? features : Arrays.copyOf(features, n * fper)));
            written.add(name); // before the write: close() removes a partial one too
            SafeTensors.write(dir.resolve(name), t, Map.of("format", FORMAT_MOMENTS));
            counts.add(n);
            filled = 0;
        }

        /** Samples appended so far. */
        public long count() {
            return total;
        }

        /**
         * Writes the last shard, then {@code manifest.json} (atomically), and checks the result opens.
         * Returns the number of samples.
         */
        public int finish() {
            if (finished) throw new IllegalStateException("moments dataset " + dir + ": already finished");
            if (total == 0) throw new IllegalArgumentException("moments dataset " + dir + ": no samples were appended");
            flush();
            writeManifest(dir, manifest((int) total, imageShape, numClasses, featureShape, encoder, normalisation, posterior, written, counts));
            finished = true;
            mean = std = labels = features = null;
            open(dir).close();
            return (int) total;
        }

        /** Without {@link #finish}: deletes the shards written so far (nothing half-made stays behind). */
        @Override
        public void close() {
            if (finished) return;
            finished = true;
            for (String name : written) {
                try {
                    Files.deleteIfExists(dir.resolve(name));
                } catch (IOException ignored) {
                    // best effort: without a manifest the directory is no dataset anyway
                }
            }
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

    /** Scale, shift and VAE of a dataset of posterior moments; null for plain images or latents. */
    @Override public Posterior posterior() { return posterior; }

    public String encoderName() {
        return encoder;
    }

    public Path directory() {
        return dir;
    }

    @Override
    public void batch(int[] indices, float[] images, float[] labels, float[] features) {
        int per = imageShape[0] * imageShape[1] * imageShape[2];
        readRows(indices, images, null, labels);
        if (posterior != null) { // the mean in the model's space
            float a = posterior.scale(), b = posterior.shift();
            for (int j = 0, n = indices.length * per; j < n; j++) images[j] = images[j] * a + b;
        }
        if (features != null && hasFeatures()) features(FEATURES, indices, features);
    }

    /** The stored mean and std of the rows (before scale and shift) and their labels; only for a moments dataset. */
    @Override
    public void moments(int[] indices, float[] mean, float[] std, float[] labels) {
        if (posterior == null) throw new UnsupportedOperationException("dataset " + dir + " holds no posterior moments");
        readRows(indices, mean, std, labels);
    }

    /** The stored rows' images (the means of a moments dataset), their std when {@code std} is not null, and labels. */
    private void readRows(int[] indices, float[] images, float[] std, float[] labels) {
        int per = imageShape[0] * imageShape[1] * imageShape[2];
        float[] one = new float[1];
        for (int i = 0; i < indices.length; i++) {
            int r = row(indices[i]), s = shardOf(r);
            long row = r - shardStart[s];
            SafeTensorsFile f = shards.get(s);
            f.readFloats("images", row * per, per, images, i * per);
            if (std != null) f.readFloats(STD, row * per, per, std, i * per);
            f.readFloats("labels", row, 1, one, 0);
            labels[i] = one[0];
        }
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
