// The backend trait (backends/backend.hpp) and how a session drives it (runtime/session.hpp): what
// satisfies the concept, placement decided once at preparation with the decliner's reason, the
// fallback backend, asynchronous submit/wait ordering (read-after-write and buffer reuse), device
// errors, the CPU reference backend, and the partition's totals.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backend_test_util.hpp"
#include "qnn/backends/backends.hpp"
#include "qnn/backends/partition.hpp"
#include "qnn/runtime/evaluate.hpp"
#include "qnn/runtime/session.hpp"

using namespace qnn;
using namespace backend_test;
using backends::Support;

namespace {

// ---- what is and is not a Backend ---------------------------------------------------------------

struct Complete {
  static constexpr std::string_view name = "complete";
  using Kernel = OpKernel;
  using Ticket = backends::ReadyTicket;
  Support supports(const NodeInfo&) const { return Support::yes(); }
  std::unique_ptr<Kernel> prepare(const NodeInfo& i) const { return builtin_registry().make(i); }
  void run(const Kernel& k, KernelContext& c) const { k.run(c); }
  Ticket submit(const Kernel& k, KernelContext& c) const { return k.run(c), Ticket{}; }
  void wait(Ticket&) const {}
};
struct NoWait {
  static constexpr std::string_view name = "no-wait";
  using Kernel = OpKernel;
  using Ticket = backends::ReadyTicket;
  Support supports(const NodeInfo&) const { return Support::yes(); }
  std::unique_ptr<Kernel> prepare(const NodeInfo& i) const { return builtin_registry().make(i); }
  void run(const Kernel& k, KernelContext& c) const { k.run(c); }
  Ticket submit(const Kernel& k, KernelContext& c) const { return k.run(c), Ticket{}; }
};
struct BoolSupports : Complete {
  bool supports(const NodeInfo&) const { return true; }  // no reason: not a Backend
};
struct NotAKernel : Complete {
  struct Kernel {};  // does not derive from OpKernel
  std::unique_ptr<Kernel> prepare(const NodeInfo&) const { return nullptr; }
  void run(const Kernel&, KernelContext&) const {}
  Ticket submit(const Kernel&, KernelContext&) const { return {}; }
};
struct MutatingSupports : Complete {
  Support supports(const NodeInfo&) { return Support::yes(); }  // must be const
};

static_assert(backends::Backend<Complete>);
static_assert(!backends::Backend<NoWait>);
static_assert(!backends::Backend<BoolSupports>);
static_assert(!backends::Backend<NotAKernel>);
static_assert(!backends::Backend<MutatingSupports>);
static_assert(backends::Backend<backends::cpu::SimdBackend>);
static_assert(backends::Backend<backends::cpu::ReferenceBackend>);
static_assert(backends::Backend<backends::npu::Emulator>);
static_assert(std::same_as<Session, BasicSession<backends::cpu::SimdBackend>>);
static_assert(std::same_as<RunContext, Session::Context>);
static_assert(std::same_as<BasicSession<backends::npu::Emulator>::fallback_type, backends::cpu::SimdBackend>);

// ---- a backend that takes only Relu, and counts what the session asks of it ------------------------

struct Counters {
  std::atomic<int> supports{0}, prepares{0}, submits{0}, waits{0};
};

struct ReluOnly {
  static constexpr std::string_view name = "relu-only";
  class Kernel final : public OpKernel {
   public:
    explicit Kernel(std::unique_ptr<OpKernel> k) : k_(std::move(k)) {}
    void run(KernelContext& c) const override { k_->run(c); }

   private:
    std::unique_ptr<OpKernel> k_;
  };
  using Ticket = backends::ReadyTicket;
  std::shared_ptr<Counters> n = std::make_shared<Counters>();

  Support supports(const NodeInfo& i) const {
    ++n->supports;
    if (i.node().op_type != "Relu") return Support::no("only Relu, not ", i.node().op_type);
    return Support::yes();
  }
  std::unique_ptr<Kernel> prepare(const NodeInfo& i) const {
    ++n->prepares;
    return std::make_unique<Kernel>(builtin_registry().make(i));
  }
  void run(const Kernel& k, KernelContext& c) const { k.run(c); }
  Ticket submit(const Kernel& k, KernelContext& c) const {
    ++n->submits;
    k.run(c);
    return {};
  }
  void wait(Ticket&) const { ++n->waits; }
};

Graph relu_neg_relu() {
  GraphBuilder b;
  b.input("x", DType::f32, {2, 3});
  b.node("", "Relu", {"x"}, {"a"});
  b.node("", "Tanh", {"a"}, {"b"});
  b.node("", "Relu", {"b"}, {"y"});
  b.output("y");
  return b.g;
}

}  // namespace

TEST_CASE("trait: nodes a backend declines run on the CPU, with its reason, decided once when prepared") {
  ReluOnly backend;
  const auto counters = backend.n;
  const BasicSession<ReluOnly> s(relu_neg_relu(), {}, builtin_registry(), backend);
  const backends::Partition& p = s.partition();
  CHECK(p.backend == "relu-only");
  CHECK(p.fallback == "cpu");
  REQUIRE(p.nodes.size() == 3);
  CHECK(p.nodes[0].device == "relu-only");
  CHECK(p.nodes[0].reason.empty());
  CHECK(p.nodes[1].device == "cpu");
  CHECK(p.nodes[1].reason == "only Relu, not Tanh");
  CHECK(p.nodes[2].device == "relu-only");
  CHECK(p.subgraphs == 2);  // the Relus are not connected to each other
  CHECK(p.fallbacks() == 1);
  // Once per node at preparation (the probe run submits, but asks nothing).
  CHECK(counters->supports == 3);
  CHECK(counters->prepares == 2);
  const int submits_after_prepare = counters->submits;

  const Session cpu(relu_neg_relu());
  const Tensor x = Tensor::from<float>(Shape{2, 3}, {-1.5f, 2.0f, 0.0f, 3.0f, -4.0f, 0.5f});
  for (int r = 0; r < 3; ++r) {
    const auto y = s.run({x});
    CHECK(same_bytes(y[0], cpu.run({x})[0]));
  }
  CHECK(counters->supports == 3);
  CHECK(counters->prepares == 2);
  CHECK(counters->submits == submits_after_prepare + 3 * 2);
  CHECK(counters->waits == counters->submits);  // every ticket is waited for, by the end of each run
}

namespace {

// The fallback is the backend's own choice when it names one.
struct ReluOnlyFallbackRef : ReluOnly {
  using fallback_type = backends::cpu::ReferenceBackend;
};

// One node of the test op "test.Probe" (its kernel is an Identity).
Graph probe_graph_of() {
  GraphBuilder b;
  b.g.opsets["test"] = 1;
  b.input("x", DType::f32, {2});
  b.node("test", "Probe", {"x"}, {"y"});
  b.output("y");
  return b.g;
}

}  // namespace

TEST_CASE("trait: the CPU reference backend prepares nodes with reference_kernels; the others do not") {
  // The test op delegates to Identity, so the kernel it returns is a real one.
  KernelRegistry r = builtin_registry();
  auto seen = std::make_shared<std::vector<bool>>();
  r.add("test", "Probe", 1, [seen](const NodeInfo& i) -> std::unique_ptr<OpKernel> {
    seen->push_back(i.options().reference_kernels);
    Node id = i.node();
    id.domain = "";
    id.op_type = "Identity";
    return builtin_registry().make(NodeInfo(id, i.graph(), i.options()));
  });
  const Tensor x = Tensor::from<float>(Shape{2}, {1.0f, -2.0f});
  {
    const BasicSession<backends::cpu::ReferenceBackend> s(probe_graph_of(), {}, r);
    CHECK(s.partition().nodes[0].device == "cpu-ref");
    CHECK(values<float>(s.run({x})[0]) == std::vector<long long>{1, -2});
  }
  {
    const Session s(probe_graph_of(), {}, r);
    CHECK(s.partition().nodes[0].device == "cpu");
  }
  {
    // A declined node goes to the backend's fallback_type: here the reference CPU backend.
    const BasicSession<ReluOnlyFallbackRef> s(probe_graph_of(), {}, r, ReluOnlyFallbackRef{});
    CHECK(s.partition().fallback == "cpu-ref");
    CHECK(s.partition().nodes[0].device == "cpu-ref");
    CHECK(s.partition().nodes[0].reason == "only Relu, not Probe");
  }
  REQUIRE(seen->size() >= 3);
  // Each session's shape probe prepares the node on a plain CPU session first (false); the session's
  // own preparation then sees: cpu-ref → true, cpu → false, the cpu-ref fallback → true.
  CHECK(std::count(seen->begin(), seen->end(), true) == 2);
  CHECK(seen->back() == true);
}

TEST_CASE("trait: cpu-ref equals cpu bit for bit on a quantized convolution and GEMM") {
  GraphBuilder b;
  b.input("x", DType::u8, {2, 3, 9, 9});
  const auto [xs, xz] = xint8_quant(b, "x", 4);
  const auto [ys, yz] = xint8_quant(b, "y", 3);
  const auto [zs, zz] = xint8_quant(b, "z", 2);
  const std::string w = b.constant("w", random_int8(Shape{8, 3, 3, 3}, 1, -127, 127));
  const std::string ws = b.constant("ws", Tensor::scalar<float>(1.0f / 128));
  const std::string wz = b.constant("wz", Tensor::scalar<std::int8_t>(0));
  const std::string bias = b.constant("bias", random_int32(Shape{8}, 2, -3000, 3000));
  Node& conv = b.node("", "QLinearConv", {"x", xs, xz, w, ws, wz, ys, yz, bias}, {"c"});
  conv.attrs.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  conv.attrs.set("strides", std::vector<std::int64_t>{2, 2});
  b.node("", "Flatten", {"c"}, {"f"});
  const std::string g = b.constant("g", random_int8(Shape{200, 10}, 3, -127, 127));
  const std::string gb = b.constant("gb", random_int32(Shape{10}, 4, -500, 500));
  b.node("com.microsoft", "QGemm", {"f", ys, yz, g, ws, wz, gb, zs, zz}, {"y"});
  b.output("y");
  const Tensor x = random_uint8(Shape{2, 3, 9, 9}, 5);
  for (const RequantPolicy p : {RequantPolicy::onnx_float, RequantPolicy::tflite_double_round, RequantPolicy::npu_pow2}) {
    CAPTURE(p);
    SessionOptions o;
    o.requant = p;
    const BasicSession<backends::cpu::ReferenceBackend> ref(Graph(b.g), o);
    const Session fast(Graph(b.g), o);
    CHECK(same_bytes(ref.run({x})[0], fast.run({x})[0]));
  }
}

namespace {

// A device that computes at wait(), not at submit(): Neg on float32 data. Its ticket captures what
// submit() was handed (input address, output buffer), as a real device queue would.
struct Deferred {
  static constexpr std::string_view name = "deferred";
  class Kernel final : public OpKernel {
   public:
    void run(KernelContext& c) const override {
      const TensorRef& x = c.in(0);
      TensorRef& y = c.output(0, DType::f32, x.shape);
      for (std::int64_t i = 0; i < x.numel(); ++i) reinterpret_cast<float*>(y.data)[i] = -reinterpret_cast<const float*>(x.data)[i];
    }
  };
  struct Ticket {
    const float* src = nullptr;
    float* dst = nullptr;
    std::int64_t n = 0;
  };
  std::shared_ptr<std::atomic<int>> fail_at = std::make_shared<std::atomic<int>>(-1);  // the n-th wait throws
  std::shared_ptr<std::atomic<int>> waits = std::make_shared<std::atomic<int>>(0);

  Support supports(const NodeInfo& i) const {
    return i.node().op_type == "Neg" ? Support::yes() : Support::no("only Neg");
  }
  std::unique_ptr<Kernel> prepare(const NodeInfo&) const { return std::make_unique<Kernel>(); }
  void run(const Kernel& k, KernelContext& c) const { k.run(c); }
  Ticket submit(const Kernel&, KernelContext& c) const {
    const TensorRef& x = c.in(0);
    TensorRef& y = c.output(0, DType::f32, x.shape);
    return {reinterpret_cast<const float*>(x.data), reinterpret_cast<float*>(y.data), x.numel()};
  }
  void wait(Ticket& t) const {
    const int k = (*waits)++;
    check(k != *fail_at, "device reported failure");
    for (std::int64_t i = 0; i < t.n; ++i) t.dst[i] = -t.src[i];
    t = {};
  }
};

}  // namespace

TEST_CASE("trait: asynchronous nodes are waited for before their readers and before their buffers are reused") {
  // x → Relu → p → Neg (deferred) → q;  x → Add(x, x) → r;  y = Neg(q + r)    ("Neg" exists only on
  // the deferred device). p's buffer is free once Neg(p) is submitted (its last reader), so the Add
  // is given it: the session must complete Neg(p) first, else q = −2x. q is read by the second Add
  // (read after write), and y comes from a deferred node (everything completes before run() returns).
  GraphBuilder b;
  b.input("x", DType::f32, {4});
  b.node("", "Relu", {"x"}, {"p"});
  b.node("", "Neg", {"p"}, {"q"});
  b.node("", "Add", {"x", "x"}, {"r"});
  b.node("", "Add", {"q", "r"}, {"s"});
  b.node("", "Neg", {"s"}, {"y"});
  b.output("y");
  SessionOptions o;
  o.probe = false;
  const Deferred dev;
  const BasicSession<Deferred> s(Graph(b.g), o, builtin_registry(), dev);
  REQUIRE(s.partition().nodes.size() == 5);
  CHECK(s.partition().nodes[1].device == "deferred");
  CHECK(s.partition().nodes[2].device == "cpu");
  CHECK(s.partition().nodes[4].device == "deferred");
  const Tensor x = Tensor::from<float>(Shape{4}, {-1.0f, -2.0f, 3.0f, -0.5f});
  // y = −(−relu(x) + 2x) = relu(x) − 2x
  const std::vector<float> want{2.0f, 4.0f, -3.0f, 1.0f};
  BasicSession<Deferred>::Context ctx;
  std::vector<Tensor> out;
  for (int r = 0; r < 2; ++r) {
    s.run(ctx, std::span<const Tensor>(&x, 1), out);
    CHECK(std::vector<float>(out[0].span<float>().begin(), out[0].span<float>().end()) == want);
  }
  SUBCASE("a device failure is a qnn::error naming the node, and nothing is left in flight") {
    *dev.fail_at = *dev.waits + 1;  // the second wait of the next run: the final Neg
    CHECK_THROWS_WITH_AS(s.run(ctx, std::span<const Tensor>(&x, 1), out),
                         doctest::Contains("node 'y' (Neg): device reported failure"), qnn::error);
    *dev.fail_at = -1;
    s.run(ctx, std::span<const Tensor>(&x, 1), out);  // the context is usable again
    CHECK(std::vector<float>(out[0].span<float>().begin(), out[0].span<float>().end()) == want);
  }
}

TEST_CASE("trait: partition totals count nodes and MACs per device") {
  // Gemm (24 MACs per row) on the CPU, Relu on the toy backend; batch-1 probe → MACs known.
  GraphBuilder b;
  b.input("x", DType::f32, {kDynamicDim, 4});
  const std::string w = b.constant("w", Tensor::from<float>(Shape{4, 6}, std::vector<float>(24, 0.5f)));
  b.node("", "Gemm", {"x", w}, {"g"});
  b.node("", "Tanh", {"g"}, {"n"});
  b.node("", "Relu", {"n"}, {"y"});
  b.output("y");
  const BasicSession<ReluOnly> s(Graph(b.g), {}, builtin_registry(), ReluOnly{});
  const backends::Partition& p = s.partition();
  REQUIRE(p.nodes.size() == 3);
  CHECK(p.nodes[0].op == "Gemm");
  CHECK(p.nodes[0].macs == 24);
  CHECK(p.total_macs() == 24);
  const auto t = p.totals();
  REQUIRE(t.size() == 2);
  CHECK(t[0].device == "relu-only");
  CHECK(t[0].nodes == 1);
  CHECK(t[0].macs == 0);
  CHECK(t[1].device == "cpu");
  CHECK(t[1].nodes == 2);
  CHECK(t[1].macs == 24);
  const std::string text = backends::format_partition(p);
  CHECK(text.find("partition on relu-only: 1 of 3 nodes, 0.0 % of 24 MACs, in 1 subgraph\n") == 0);
  CHECK(text.find("  #0 g (Gemm) -> cpu: only Relu, not Gemm\n") != std::string::npos);
  CHECK(text.find("  #1 n (Tanh) -> cpu: only Relu, not Tanh\n") != std::string::npos);
  const std::string js = backends::partition_json(p).dump();
  CHECK(js.find("\"backend\": \"relu-only\"") != std::string::npos);
  CHECK(js.find("\"reason\": \"only Relu, not Tanh\"") != std::string::npos);
  CHECK(js.find("\"total_macs\": 24") != std::string::npos);

  SessionOptions no_probe;
  no_probe.probe = false;
  const BasicSession<ReluOnly> q(Graph(b.g), no_probe, builtin_registry(), ReluOnly{});
  CHECK(q.partition().total_macs() == -1);  // unknown without the probe run
  CHECK(backends::format_partition(q.partition()).find("of ? MACs") != std::string::npos);
}

TEST_CASE("trait: visit_backend names every built-in backend and refuses others") {
  std::vector<std::string> names;
  for (const char* n : {"cpu", "cpu-ref", "npu-emu"})
    names.push_back(std::string(backends::visit_backend(n, [](auto b) { return decltype(b)::name; })));
  CHECK(names == std::vector<std::string>{"cpu", "cpu-ref", "npu-emu"});
  CHECK_THROWS_WITH_AS(backends::visit_backend("gpu", [](auto) {}),
                       doctest::Contains("unknown backend 'gpu' (available: cpu, cpu-ref, npu-emu)"), qnn::error);
}
