/** The erw tensor engine: buffers, recorded graphs with reverse mode, the kernel catalogue, the CPU backend. */
module erw.engine {
    requires jdk.incubator.vector;
    exports erw.engine;
    exports erw.engine.cpu;
    exports erw.engine.ops;
    // the TornadoVM backend (profile 'tornado') reads each op's recorded operands and flags
    opens erw.engine.ops to erw.engine.tornado;
    uses erw.engine.BackendProvider;
}
