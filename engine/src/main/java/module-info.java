/** The erw tensor engine: buffers, recorded graphs with reverse mode, the op catalogue, the host (threads, RNG), the CPU backend. */
module erw.engine {
    requires jdk.incubator.vector;
    requires jdk.management;
    exports erw.engine;
    exports erw.engine.cpu;
    exports erw.engine.host;
    exports erw.engine.ops;
    uses erw.engine.BackendProvider;
    provides erw.engine.BackendProvider with erw.engine.cpu.CpuBackendProvider;
}
