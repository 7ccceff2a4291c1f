/** SiT with the projector on the erw engine; parameters under the published names; safetensors. */
module erw.model {
    requires transitive erw.engine;
    requires com.fasterxml.jackson.databind;
    exports erw.model;
    exports erw.model.io;
}
