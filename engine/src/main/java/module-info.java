/** The erw tensor engine: buffers, recorded graphs with reverse mode, the kernel catalogue, the CPU backend. */
module erw.engine {
    requires jdk.incubator.vector;
    exports erw.engine;
    exports erw.engine.cpu;
    exports erw.engine.ops;
    uses erw.engine.BackendProvider;
}
