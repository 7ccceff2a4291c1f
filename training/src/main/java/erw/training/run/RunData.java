package erw.training.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import erw.training.BatchSource;
import java.nio.file.Path;

/**
 * The dataset a run trains on, as the run directory and every checkpoint record it: where it was
 * ({@code source} "dir" for a dataset directory, "fashion-mnist" for the built-in data under a data
 * root), how many samples, and its {@link DataFingerprint}. A resume reopens it from here and refuses
 * a dataset whose fingerprint differs.
 */
public record RunData(String source, Path path, int count, String fingerprint) {
    public static final String DIR = "dir", BUILT_IN = "fashion-mnist";
    /** Checkpoint metadata key. */
    public static final String KEY = "erw.data";
    private static final ObjectMapper JSON = new ObjectMapper();

    public static RunData of(BatchSource data, Path path, boolean builtIn) {
        return of(data, path, builtIn, java.util.List.of());
    }

    /** With the rows of the further feature sets a run reads ({@code extraSets}) in the fingerprint. */
    public static RunData of(BatchSource data, Path path, boolean builtIn, java.util.List<String> extraSets) {
        return new RunData(builtIn ? BUILT_IN : DIR, path.toAbsolutePath().normalize(), data.count(), DataFingerprint.of(data, extraSets));
    }

    public boolean builtIn() {
        return source.equals(BUILT_IN);
    }

    public ObjectNode toJsonNode() {
        ObjectNode o = JSON.createObjectNode();
        o.put("source", source).put("path", path.toString()).put("count", count).put("fingerprint", fingerprint);
        return o;
    }

    public String toJson() {
        return toJsonNode().toString();
    }

    /** Parses what {@link #toJson} wrote; {@code where} names the file and field for errors. */
    public static RunData fromJson(JsonNode o, String where) {
        if (o == null || !o.isObject()) throw new IllegalArgumentException(where + " is not a JSON object");
        JsonNode src = o.get("source"), path = o.get("path"), count = o.get("count"), fp = o.get("fingerprint");
        if (src == null || !(src.asText().equals(DIR) || src.asText().equals(BUILT_IN))) throw new IllegalArgumentException(where + ": field 'source' must be \"dir\" or \"fashion-mnist\"");
        if (path == null || !path.isTextual() || path.asText().isEmpty()) throw new IllegalArgumentException(where + ": field 'path' must be a path");
        if (count == null || !count.isIntegralNumber() || !count.canConvertToInt() || count.asInt() < 1) throw new IllegalArgumentException(where + ": field 'count' must be a positive integer");
        if (fp == null || !fp.isTextual() || !fp.asText().matches("[0-9a-f]{64}")) throw new IllegalArgumentException(where + ": field 'fingerprint' must be 64 hex digits");
        return new RunData(src.asText(), Path.of(path.asText()), count.asInt(), fp.asText());
    }

    public static RunData fromJson(String json, String where) {
        try {
            return fromJson(JSON.readTree(json), where);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(where + " is not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** One line for messages. */
    public String describe() {
        return (builtIn() ? "the built-in Fashion-MNIST data under " : "dataset ") + path + " (" + count + " samples, fingerprint " + fingerprint.substring(0, 12) + ")";
    }
}
