package erw.model;

import erw.engine.Graph;
import erw.engine.Tensor;
import erw.engine.host.Philox;
import java.util.ArrayList;
import java.util.List;

/**
 * SiT (DiT blocks with adaLN-Zero) plus the REPA/ERW projector, as recorded engine graphs
 * (SPEC section 1). Parameters live in a {@link ParameterStore} under the published names.
 * {@link #forward} records the model into a graph; the same model can be recorded into several
 * graphs (training step, sampler step) because recording does not copy parameters.
 */
public final class SiT {
    /** Width of the sinusoidal timestep features. */
    public static final int FREQ_DIM = 256;
    public static final float LN_EPS = 1e-6f;
    /** torch.nn.LayerNorm's default, used by the optional QK-norm. */
    public static final float QK_NORM_EPS = 1e-5f;

    private final SiTConfig cfg;
    private final ParameterStore store = new ParameterStore();

    /**
     * What a recorded forward returns: velocity (N,C,H,W), or null for the warmup model; each
     * projector's output in {@link SiTConfig#projectors()} order ((N,T,Z) per token, (N,Z) pooled);
     * and the hidden tokens (N*T, D) after the last block held.
     */
    public record Outputs(Tensor velocity, List<Tensor> projections, Tensor hidden) {
        public Outputs {
            projections = List.copyOf(projections);
        }

        /** Projector 0's tokens (N,T,Z): REPA's and ERW's alignment output. */
        public Tensor zs() {
            return projections.get(0);
        }
    }

    public SiT(SiTConfig cfg) {
        this.cfg = cfg;
        // weights and their gradient buffers, refused before the first allocation when they cannot fit
        MemoryBudget.require(MemoryBudget.times(ModelSizes.parameters(cfg), 8), "the model (" + ModelSizes.describe(cfg) + ")",
                "check the model config, or give the JVM more heap (ERW_JAVA_OPTS=-Xmx...)");
        int d = cfg.hiddenSize(), c = cfg.inChannels(), p = cfg.patchSize();
        store.param("x_embedder.proj.weight", d, c, p, p);
        store.param("x_embedder.proj.bias", d);
        store.buffer("pos_embed", 1, cfg.tokens(), d);
        store.param("t_embedder.mlp.0.weight", d, FREQ_DIM);
        store.param("t_embedder.mlp.0.bias", d);
        store.param("t_embedder.mlp.2.weight", d, d);
        store.param("t_embedder.mlp.2.bias", d);
        store.param("y_embedder.embedding_table.weight", cfg.numClasses() + 1, d);
        for (int i = 0; i < cfg.blocks(); i++) {
            String b = "blocks." + i + ".";
            store.param(b + "attn.qkv.weight", 3 * d, d);
            store.param(b + "attn.qkv.bias", 3 * d);
            if (cfg.qkNorm()) {
                store.param(b + "attn.q_norm.weight", cfg.headDim());
                store.param(b + "attn.q_norm.bias", cfg.headDim());
                store.param(b + "attn.k_norm.weight", cfg.headDim());
                store.param(b + "attn.k_norm.bias", cfg.headDim());
            }
            store.param(b + "attn.proj.weight", d, d);
            store.param(b + "attn.proj.bias", d);
            store.param(b + "mlp.fc1.weight", cfg.mlpHidden(), d);
            store.param(b + "mlp.fc1.bias", cfg.mlpHidden());
            store.param(b + "mlp.fc2.weight", d, cfg.mlpHidden());
            store.param(b + "mlp.fc2.bias", d);
            store.param(b + "adaLN_modulation.1.weight", 6 * d, d);
            store.param(b + "adaLN_modulation.1.bias", 6 * d);
        }
        if (!cfg.truncated()) {
            store.param("final_layer.linear.weight", p * p * c, d);
            store.param("final_layer.linear.bias", p * p * c);
            store.param("final_layer.adaLN_modulation.1.weight", 2 * d, d);
            store.param("final_layer.adaLN_modulation.1.bias", 2 * d);
        }
        List<SiTConfig.Projector> projectors = cfg.projectors();
        for (int k = 0; k < projectors.size(); k++) {
            String pre = "projectors." + k + ".";
            int w = projectors.get(k).width(), z = projectors.get(k).zDim();
            store.param(pre + "0.weight", w, d);
            store.param(pre + "0.bias", w);
            store.param(pre + "2.weight", w, w);
            store.param(pre + "2.bias", w);
            store.param(pre + "4.weight", z, w);
            store.param(pre + "4.bias", z);
        }
        fillPosEmbed(store.get("pos_embed").data(), d, cfg.inputSize() / p);
        if (cfg.rope()) {
            store.buffer("feat_rope.freqs_cos", cfg.tokens(), cfg.headDim());
            store.buffer("feat_rope.freqs_sin", cfg.tokens(), cfg.headDim());
            fillRope(store.get("feat_rope.freqs_cos").data(), store.get("feat_rope.freqs_sin").data(), cfg.headDim() / 2, cfg.inputSize() / p);
        }
    }

    public SiTConfig config() {
        return cfg;
    }

    public ParameterStore parameters() {
        return store;
    }

    /**
     * Initialization of SPEC section 1 from Philox (stream = the tensor's index in the store):
     * Linear weights xavier-uniform, biases 0; embedder tables and timestep MLP normal(0, 0.02);
     * adaLN modulations and the whole final layer zero; QK-norm weights 1.
     */
    public SiT initialize(long seed) {
        int stream = 0;
        for (var e : store.all().entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            stream++;
            if (name.equals("pos_embed") || name.startsWith("feat_rope.")) continue;
            float[] v = t.data();
            java.util.Arrays.fill(v, 0f);
            if (name.endsWith(".bias") || name.startsWith("final_layer.") || name.contains("adaLN_modulation")) continue;
            if (name.contains("_norm.weight")) {
                java.util.Arrays.fill(v, 1f);
            } else if (name.startsWith("t_embedder.") || name.startsWith("y_embedder.")) {
                Philox.normal(seed, stream, 0, v, 0, v.length);
                for (int i = 0; i < v.length; i++) v[i] *= 0.02f;
            } else {
                int fanOut = t.dim(0), fanIn = t.size() / fanOut; // the conv weight is (D, C*p*p)
                float a = (float) Math.sqrt(6.0 / (fanIn + fanOut));
                Philox.uniform(seed, stream, 0, v, 0, v.length);
                for (int i = 0; i < v.length; i++) v[i] = (2f * v[i] - 1f) * a;
            }
        }
        return this;
    }

    /** MAE's 2-D sin-cos table: first D/2 dims encode the column, the last D/2 the row; [sin, cos] halves. */
    static void fillPosEmbed(float[] out, int d, int grid) {
        int quarter = d / 4;
        for (int i = 0; i < grid; i++) {
            for (int j = 0; j < grid; j++) {
                int o = (i * grid + j) * d;
                for (int k = 0; k < quarter; k++) {
                    double w = 1.0 / Math.pow(10000.0, (double) k / quarter);
                    out[o + k] = (float) Math.sin(j * w);
                    out[o + quarter + k] = (float) Math.cos(j * w);
                    out[o + 2 * quarter + k] = (float) Math.sin(i * w);
                    out[o + 3 * quarter + k] = (float) Math.cos(i * w);
                }
            }
        }
    }

    /**
     * LightningDiT's VisionRotaryEmbeddingFast(dim = d/2, grid) tables (T, d): frequencies
     * 1/10000^(2k/dim) repeated pairwise; the first dim features rotate by the token's row, the
     * last dim by its column.
     */
    static void fillRope(float[] cos, float[] sin, int dim, int grid) {
        float[] freqs = new float[dim];
        for (int k = 0; k < dim / 2; k++) {
            float f = (float) (1.0 / Math.pow(10000.0, (float) (2 * k) / dim));
            freqs[2 * k] = f;
            freqs[2 * k + 1] = f;
        }
        for (int i = 0; i < grid; i++) {
            for (int j = 0; j < grid; j++) {
                int o = (i * grid + j) * 2 * dim;
                for (int k = 0; k < dim; k++) {
                    float a = i * freqs[k], b = j * freqs[k];
                    cos[o + k] = (float) Math.cos(a);
                    sin[o + k] = (float) Math.sin(a);
                    cos[o + dim + k] = (float) Math.cos(b);
                    sin[o + dim + k] = (float) Math.sin(b);
                }
            }
        }
    }

    private Tensor p(String name) {
        return store.get(name);
    }

    /**
     * Records the forward pass for a batch: x (N,C,H,W), t (N), y (N) class ids (the null class is
     * {@code numClasses}). Returns the velocity (absent for the warmup model) and every projector's
     * output, projector k reading block {@link SiTConfig#projectorBlock(int)}.
     */
    public Outputs forward(Graph g, Tensor x, Tensor t, Tensor y) {
        int n = x.dim(0), c = cfg.inChannels(), ps = cfg.patchSize(), side = cfg.inputSize();
        Tensor[] hc = embed(g, x, t, y);
        Tensor h = hc[0], condAct = hc[1];
        List<SiTConfig.Projector> projectors = cfg.projectors();
        Tensor[] zs = new Tensor[projectors.size()];
        for (int i = 0; i < cfg.blocks(); i++) {
            h = block(g, i, h, condAct, n);
            for (int k = 0; k < zs.length; k++) if (i + 1 == cfg.projectorBlock(k)) zs[k] = projector(g, k, projectors.get(k), h, n);
        }
        if (cfg.truncated()) return new Outputs(null, List.of(zs), h);

        List<Tensor> fm = g.chunk("final_layer.adaLN.chunk", g.linear("final_layer.adaLN_modulation.1", condAct,
                p("final_layer.adaLN_modulation.1.weight"), p("final_layer.adaLN_modulation.1.bias")), 2);
        Tensor fin = g.modulate("final_layer.modulate", g.layerNorm("final_layer.norm_final", h, null, null, LN_EPS), fm.get(0), fm.get(1));
        fin = g.linear("final_layer.linear", fin, p("final_layer.linear.weight"), p("final_layer.linear.bias"));
        Tensor v = g.unpatchify("final_layer.unpatchify", fin, n, c, side, side, ps);
        return new Outputs(v, List.of(zs), h);
    }

    /**
     * Records the forward up to and including block {@code depth} (1-based) and returns its tokens
     * (N*T, D): the representation CKNNA and probes read. RoPE is applied as in the full model.
     */
    public Tensor blockTokens(Graph g, Tensor x, Tensor t, Tensor y, int depth) {
        if (depth < 1 || depth > cfg.blocks()) throw new IllegalArgumentException("block " + depth + " is outside 1.." + cfg.blocks());
        Tensor[] hc = embed(g, x, t, y);
        Tensor h = hc[0];
        for (int i = 0; i < depth; i++) h = block(g, i, h, hc[1], x.dim(0));
        return h;
    }

    /** Patch + position embedding and the conditioning SiLU(t_emb + y_emb): {tokens, condAct}. */
    private Tensor[] embed(Graph g, Tensor x, Tensor t, Tensor y) {
        int n = x.dim(0), d = cfg.hiddenSize(), c = cfg.inChannels(), ps = cfg.patchSize(), side = cfg.inputSize();
        if (x.rank() != 4 || x.dim(1) != c || x.dim(2) != side || x.dim(3) != side) {
            throw new IllegalArgumentException("SiT input x must be (N, " + c + ", " + side + ", " + side + "), got " + x.shapeString());
        }
        if (t.size() != n || y.size() != n) throw new IllegalArgumentException("SiT inputs t " + t.shapeString() + " and y " + y.shapeString() + " must have N = " + n + " elements");
        int tokens = cfg.tokens();

        Tensor patches = g.patchify("x_embedder.patchify", x, n, c, side, side, ps);
        Tensor convW = p("x_embedder.proj.weight").view("x_embedder.proj.weight(2d)", d, c * ps * ps);
        Tensor h = g.linear("x_embedder.proj", patches, convW, p("x_embedder.proj.bias"));
        h = g.add("pos_embed.add", h, p("pos_embed").view("pos_embed(2d)", tokens, d));

        Tensor tFreq = g.timestepEmbedding("t_embedder.freq", t, FREQ_DIM);
        Tensor te = g.linear("t_embedder.mlp.0", tFreq, p("t_embedder.mlp.0.weight"), p("t_embedder.mlp.0.bias"));
        te = g.linear("t_embedder.mlp.2", g.silu("t_embedder.mlp.1", te), p("t_embedder.mlp.2.weight"), p("t_embedder.mlp.2.bias"));
        Tensor ye = g.embedding("y_embedder", p("y_embedder.embedding_table.weight"), y);
        Tensor cond = g.add("c", te, ye);
        Tensor condAct = g.silu("c.silu", cond); // adaLN_modulation.0 of every block and the final layer
        return new Tensor[]{h, condAct};
    }

    /** Block i as a recompute segment of the graph (see {@link Graph#backward(Tensor, boolean)}). */
    private Tensor block(Graph g, int i, Tensor h, Tensor condAct, int n) {
        g.beginSegment("blocks." + i);
        Tensor out = blockOps(g, i, h, condAct, n);
        g.endSegment();
        return out;
    }

    private Tensor blockOps(Graph g, int i, Tensor h, Tensor condAct, int n) {
        String b = "blocks." + i + ".";
        List<Tensor> m = g.chunk(b + "adaLN.chunk", g.linear(b + "adaLN_modulation.1", condAct,
                p(b + "adaLN_modulation.1.weight"), p(b + "adaLN_modulation.1.bias")), 6);
        Tensor a = g.modulate(b + "modulate1", g.layerNorm(b + "norm1", h, null, null, LN_EPS), m.get(0), m.get(1));
        Tensor qkv = g.linear(b + "attn.qkv", a, p(b + "attn.qkv.weight"), p(b + "attn.qkv.bias"));
        if (cfg.qkNorm()) qkv = qkNorm(g, b, qkv);
        // RoPE after QK-norm; off in the ERW warmup model (SPEC section 4)
        if (cfg.rope() && !cfg.truncated()) qkv = g.rope(b + "attn.rope", qkv, p("feat_rope.freqs_cos"), p("feat_rope.freqs_sin"), n, cfg.numHeads());
        Tensor att = g.attention(b + "attn.sdpa", qkv, n, cfg.numHeads());
        att = g.linear(b + "attn.proj", att, p(b + "attn.proj.weight"), p(b + "attn.proj.bias"));
        h = g.gatedResidual(b + "residual1", h, m.get(2), att);
        Tensor f = g.modulate(b + "modulate2", g.layerNorm(b + "norm2", h, null, null, LN_EPS), m.get(3), m.get(4));
        f = g.gelu(b + "mlp.act", g.linear(b + "mlp.fc1", f, p(b + "mlp.fc1.weight"), p(b + "mlp.fc1.bias")));
        f = g.linear(b + "mlp.fc2", f, p(b + "mlp.fc2.weight"), p(b + "mlp.fc2.bias"));
        return g.gatedResidual(b + "residual2", h, m.get(5), f);
    }

    /** LayerNorm with affine over each head's d features of q and of k (v untouched). */
    private Tensor qkNorm(Graph g, String b, Tensor qkv) {
        int rows = qkv.rows(), d = cfg.hiddenSize(), hd = cfg.headDim();
        List<Tensor> parts = g.chunk(b + "attn.qkv.split", qkv, 3);
        Tensor q = g.layerNorm(b + "attn.q_norm", parts.get(0).view(b + "q(heads)", rows * cfg.numHeads(), hd),
                p(b + "attn.q_norm.weight"), p(b + "attn.q_norm.bias"), QK_NORM_EPS);
        Tensor k = g.layerNorm(b + "attn.k_norm", parts.get(1).view(b + "k(heads)", rows * cfg.numHeads(), hd),
                p(b + "attn.k_norm.weight"), p(b + "attn.k_norm.bias"), QK_NORM_EPS);
        return g.concat(b + "attn.qkv.join", List.of(q.view(b + "q", rows, d), k.view(b + "k", rows, d), parts.get(2)));
    }

    /**
     * Projector k on block tokens h (N*T, D): per token it returns (N,T,Z); pooled it reads the mean
     * of each sample's tokens (REED's {@code x.mean(dim=1)}) and returns (N,Z).
     */
    private Tensor projector(Graph g, int k, SiTConfig.Projector spec, Tensor h, int n) {
        String pre = "projectors." + k + ".";
        Tensor in = spec.pooled() ? g.tokenMean(pre + "pool", h, n) : h;
        Tensor z = g.silu(pre + "1", g.linear(pre + "0", in, p(pre + "0.weight"), p(pre + "0.bias")));
        z = g.silu(pre + "3", g.linear(pre + "2", z, p(pre + "2.weight"), p(pre + "2.bias")));
        z = g.linear(pre + "4", z, p(pre + "4.weight"), p(pre + "4.bias"));
        if (spec.pooled()) return z;
        return z.view(k == 0 ? "zs" : "zs." + k, n, cfg.tokens(), spec.zDim());
    }

    /** Whether a parameter belongs to a projector (SiT trains without them). */
    public static boolean isProjector(String name) {
        return name.startsWith("projectors.");
    }
}
