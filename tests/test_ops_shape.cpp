// Shape ops: float64 gradcheck and gradgradcheck of reshape/view, flatten, squeeze/unsqueeze,
// expand, slicing (start/stop/step, negative indices), select, getitem, index_select/embedding and
// gather/scatter_add with repeated indices (gradients accumulate), cat and stack; zero-size
// pieces; error messages.
#include "op_check.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::testing;

namespace {

using Inputs = std::vector<Tensor>;
using std::nullopt;

}  // namespace

TEST_CASE("reshape and view, with an inferred extent") {
  Tensor x = random_leaf({2, 3, 4}, -1, 1, 70);
  for (const std::vector<std::int64_t>& s :
       std::vector<std::vector<std::int64_t>>{{4, 6}, {4, -1}, {-1}, {2, 12}, {1, 24, 1}, {-1, 2, 3}}) {
    check_gradients("reshape", [s](const Inputs& v) { return reshape(v[0], s); }, {x});
  }
  CHECK(reshape(x, {4, -1}).shape() == Shape{4, 6});
  CHECK(x.view({-1, 2, 3}).shape() == Shape{4, 2, 3});
  CHECK(reshape(random_leaf({}, 0, 1), {1, 1}).shape() == Shape{1, 1});
  CHECK(reshape(random_leaf({1, 1}, 0, 1), {}).shape() == Shape{});
  // Row-major order is kept: element (1, 0) of the (2,12) view is element 12.
  CHECK(x.view({2, 12}).value<double>()(1, 0) == x.value<double>()(1, 0, 0));
  // Zero-size tensors reshape too; -1 is inferred unless the other extents multiply to 0, where it
  // would be ambiguous (PyTorch raises as well).
  CHECK(reshape(zeros({0, 3}, kFloat64), {-1, 3}).shape() == Shape{0, 3});
  CHECK(reshape(zeros({0, 3}, kFloat64), {3, 1, 0}).shape() == Shape{3, 1, 0});
  CHECK_THROWS_WITH(reshape(zeros({0, 3}, kFloat64), {3, -1, 0}),
                    Catch::StartsWith("reshape: cannot reshape a tensor of shape (0,3)"));
}

TEST_CASE("flatten") {
  Tensor x = random_leaf({2, 3, 4}, -1, 1, 71);
  CHECK(flatten(x).shape() == Shape{24});
  CHECK(flatten(x, 1).shape() == Shape{2, 12});
  CHECK(flatten(x, 0, 1).shape() == Shape{6, 4});
  CHECK(flatten(x, -2, -1).shape() == Shape{2, 12});
  CHECK(flatten(random_leaf({}, 0, 1)).shape() == Shape{1});
  check_gradients("flatten", [](const Inputs& v) { return flatten(v[0], 1); }, {x});
}

TEST_CASE("squeeze and unsqueeze") {
  Tensor x = random_leaf({1, 3, 1, 2}, -1, 1, 72);
  CHECK(squeeze(x).shape() == Shape{3, 2});
  CHECK(squeeze(x, 2).shape() == Shape{1, 3, 2});
  CHECK(squeeze(x, -4).shape() == Shape{3, 1, 2});
  CHECK(squeeze(x, 1).shape() == Shape{1, 3, 1, 2});  // extent 3: a no-op, as in PyTorch
  check_gradients("squeeze", [](const Inputs& v) { return squeeze(v[0]); }, {x});
  check_gradients("squeeze axis", [](const Inputs& v) { return squeeze(v[0], 2); }, {x});
  Tensor y = random_leaf({3, 4}, -1, 1, 73);
  CHECK(unsqueeze(y, 0).shape() == Shape{1, 3, 4});
  CHECK(unsqueeze(y, 2).shape() == Shape{3, 4, 1});
  CHECK(unsqueeze(y, -1).shape() == Shape{3, 4, 1});
  CHECK(unsqueeze(y, -3).shape() == Shape{1, 3, 4});
  check_gradients("unsqueeze", [](const Inputs& v) { return unsqueeze(v[0], -2); }, {y});
}

TEST_CASE("expand: gradient sums over the broadcast axes") {
  check_gradients("expand (3,1)->(3,4)",
                  [](const Inputs& v) {
                    return expand(v[0], {3, 4});
                  },
                  {random_leaf({3, 1}, -1, 1, 74)});
  check_gradients("expand (4)->(2,3,4)",
                  [](const Inputs& v) {
                    return expand(v[0], {2, 3, 4});
                  },
                  {random_leaf({4}, -1, 1, 75)});
  check_gradients("expand ()->(2,3)",
                  [](const Inputs& v) {
                    return expand(v[0], {2, 3});
                  },
                  {random_leaf({}, -1, 1, 76)});
  check_gradients("expand (1,3,1)->(2,3,2)",
                  [](const Inputs& v) {
                    return expand(v[0], {2, 3, 2});
                  },
                  {random_leaf({1, 3, 1}, -1, 1, 77)});
  // By hand: (2,1) -> (2,3), upstream all ones: each element feeds 3 outputs.
  Tensor x = param({2, 1}, {1.0, 2.0});
  CHECK(values(expand(x, {2, 3})) == std::vector<double>{1, 1, 1, 2, 2, 2});
  CHECK(values(tg::grad({sum(expand(x, {2, 3}))}, {x})[0]) == std::vector<double>{3, 3});
}

TEST_CASE("slice: start, stop, step and negative indices (Python semantics)") {
  Tensor x = random_leaf({6, 4}, -1, 1, 78);
  struct Case {
    int axis;
    std::optional<std::int64_t> start, stop;
    std::int64_t step;
    Shape out;
  };
  const std::vector<Case> cases = {
      {0, 1, 3, 1, {2, 4}},           {0, nullopt, nullopt, 2, {3, 4}}, {1, 1, nullopt, 2, {6, 2}},
      {0, -3, -1, 1, {2, 4}},         {-1, -3, nullopt, 1, {6, 3}},     {0, 2, 100, 3, {2, 4}},
      {0, -100, 2, 1, {2, 4}},        {1, 3, 1, 1, {6, 0}},             {0, nullopt, -4, 1, {2, 4}},
  };
  for (const Case& c : cases) {
    const std::string what = "slice axis " + std::to_string(c.axis) + " step " + std::to_string(c.step);
    INFO(what);
    CHECK(slice(x, c.axis, c.start, c.stop, c.step).shape() == c.out);
    if (c.out[0] * c.out[1] > 0)
      check_gradients(what, [c](const Inputs& v) { return slice(v[0], c.axis, c.start, c.stop, c.step); }, {x});
  }
  // By hand: arange(6)[1::2] = (1, 3, 5); gradient puts the upstream back at those places.
  Tensor r = param({0.0, 1.0, 2.0, 3.0, 4.0, 5.0});
  const Tensor s = slice(r, 0, 1, nullopt, 2);
  CHECK(values(s) == std::vector<double>{1, 3, 5});
  CHECK(values(tg::grad({s}, {r}, {tensor({10.0, 20.0, 30.0}, kFloat64)})[0]) ==
        std::vector<double>{0, 10, 0, 20, 0, 30});
  CHECK(values(slice(r, 0, -2, nullopt)) == std::vector<double>{4, 5});
  // An empty slice has an all-zero gradient.
  CHECK(values(tg::grad({sum(slice(r, 0, 4, 2))}, {r})[0]) == std::vector<double>(6, 0.0));
}

TEST_CASE("select: removes the axis, negative index counts from the end") {
  Tensor x = random_leaf({3, 4}, -1, 1, 79);
  for (auto [axis, index] : std::vector<std::pair<int, std::int64_t>>{{0, 0}, {0, -1}, {1, 2}, {-1, -4}}) {
    check_gradients("select", [axis = axis, index = index](const Inputs& v) { return select(v[0], axis, index); }, {x});
  }
  CHECK(select(x, 1, 2).shape() == Shape{3});
  CHECK(at(select(x, 0, -1), 1) == x.value<double>()(2, 1));
  CHECK(select(random_leaf({3}, 0, 1), 0, 1).shape() == Shape{});
}

TEST_CASE("getitem: integers and slices over several axes") {
  Tensor x = random_leaf({4, 5, 3}, -1, 1, 80);
  const std::vector<std::vector<Index>> indices = {
      {1}, {-1, Slice(1, -1)}, {Slice(1, 4), Slice(nullopt, nullopt, 2)}, {Slice(), 2, -1}, {Slice(-3, nullopt, 2), 0}};
  const std::vector<Shape> shapes = {{5, 3}, {3, 3}, {3, 3, 3}, {4}, {2, 3}};
  for (std::size_t i = 0; i < indices.size(); ++i) {
    INFO("getitem case " << i);
    CHECK(getitem(x, indices[i]).shape() == shapes[i]);
    check_gradients("getitem", [idx = indices[i]](const Inputs& v) { return getitem(v[0], idx); }, {x});
  }
  // By hand: x[-1, 1:-1] of a (2,4) arange is (5, 6).
  Tensor m = param({{0.0, 1.0, 2.0, 3.0}, {4.0, 5.0, 6.0, 7.0}});
  CHECK(values(getitem(m, {-1, Slice(1, -1)})) == std::vector<double>{5, 6});
  CHECK(values(tg::grad({sum(getitem(m, {-1, Slice(1, -1)}))}, {m})[0]) == std::vector<double>{0, 0, 0, 0, 0, 1, 1, 0});
}

TEST_CASE("index_select and embedding: repeated indices accumulate gradients") {
  Tensor x = random_leaf({5, 3}, -1, 1, 81);
  const Tensor rows = indices({2, 0, 2, 4, 2});
  check_gradients("index_select rows", [rows](const Inputs& v) { return index_select(v[0], 0, rows); }, {x});
  const Tensor cols = indices({1, 1, 0});
  check_gradients("index_select cols", [cols](const Inputs& v) { return index_select(v[0], -1, cols); }, {x});
  check_gradients("index_select 3-D", [cols](const Inputs& v) { return index_select(v[0], 1, cols); },
                  {random_leaf({2, 3, 2}, -1, 1, 82)});
  // By hand: row 2 picked three times gets three times the upstream gradient.
  const Tensor g = tg::grad({sum(index_select(x, 0, rows))}, {x})[0];
  CHECK(values(select(g, 0, 2)) == std::vector<double>{3, 3, 3});
  CHECK(values(select(g, 0, 1)) == std::vector<double>{0, 0, 0});
  CHECK(values(select(g, 0, 0)) == std::vector<double>{1, 1, 1});
  // embedding: weight[indices] for indices of any shape.
  Tensor weight = random_leaf({6, 4}, -1, 1, 83);
  const Tensor ids = indices({{0, 2, 0}, {5, 2, 2}});
  CHECK(embedding(ids, weight).shape() == Shape{2, 3, 4});
  CHECK(at(embedding(ids, weight), 4 * 3 + 1) == weight.value<double>()(5, 1));
  check_gradients("embedding", [ids](const Inputs& v) { return embedding(ids, v[0]); }, {weight});
  const Tensor ge = tg::grad({sum(embedding(ids, weight))}, {weight})[0];
  CHECK(values(sum(ge, {1})) == std::vector<double>{8, 0, 12, 0, 0, 4});  // counts 2, 0, 3, 0, 0, 1 times 4 columns
  // An empty index selects nothing.
  CHECK(index_select(x, 0, Tensor(xt::xarray<std::int64_t>::from_shape({0}))).shape() == Shape{0, 3});
}

TEST_CASE("gather and scatter_add: adjoint pair, repeated indices accumulate") {
  Tensor x = random_leaf({3, 4}, -1, 1, 84);
  const Tensor idx1 = indices({{0, 3, 3}, {1, 1, 2}, {2, 0, 0}});  // (3,3) along axis 1
  const Tensor idx0 = indices({{2, 0, 1, 2}, {2, 2, 0, 1}});       // (2,4) along axis 0
  CHECK(gather(x, 1, idx1).shape() == Shape{3, 3});
  CHECK(at(gather(x, 1, idx1), 1) == x.value<double>()(0, 3));
  CHECK(at(gather(x, 0, idx0), 4) == x.value<double>()(2, 0));
  check_gradients("gather axis 1", [idx1](const Inputs& v) { return gather(v[0], 1, idx1); }, {x});
  check_gradients("gather axis 0", [idx0](const Inputs& v) { return gather(v[0], 0, idx0); }, {x});
  check_gradients("gather axis -1", [idx1](const Inputs& v) { return gather(v[0], -1, idx1); }, {x});
  // By hand: x[0][3] is gathered twice, so its gradient is 2.
  const Tensor g = tg::grad({sum(gather(x, 1, idx1))}, {x})[0];
  CHECK(values(g) == std::vector<double>{1, 0, 0, 2, 0, 2, 1, 0, 2, 0, 1, 0});
  // scatter_add adds src at the indexed positions; it is gather's adjoint:
  // <gather(x, idx), s> == <x, scatter_add(idx, s)>.
  Tensor src = random_leaf({3, 3}, -1, 1, 85);
  const Tensor scattered = scatter_add({3, 4}, 1, idx1, src);
  CHECK(at(scattered, 3) == Approx(src.value<double>()(0, 1) + src.value<double>()(0, 2)).epsilon(1e-15));
  CHECK(at(sum(gather(x, 1, idx1) * src), 0) == Approx(at(sum(x * scattered), 0)).epsilon(1e-14));
  check_gradients("scatter_add", [idx1](const Inputs& v) { return scatter_add({3, 4}, 1, idx1, v[0]); }, {src});
  check_gradients("index_add", [](const Inputs& v) { return index_add({4, 3}, 0, indices({3, 0, 3}), v[0]); },
                  {random_leaf({3, 3}, -1, 1, 86)});
}

TEST_CASE("cat and stack") {
  Tensor a = random_leaf({2, 3}, -1, 1, 87), b = random_leaf({4, 3}, -1, 1, 88), c = random_leaf({2, 1}, -1, 1, 89),
         d = random_leaf({2, 2}, -1, 1, 90);
  CHECK(cat({a, b}, 0).shape() == Shape{6, 3});
  CHECK(cat({a, c, d}, 1).shape() == Shape{2, 6});
  CHECK(cat({a, c, d}, -1).shape() == Shape{2, 6});
  check_gradients("cat axis 0", [](const Inputs& v) { return cat(v, 0); }, {a, b});
  check_gradients("cat axis 1, three", [](const Inputs& v) { return cat(v, 1); }, {a, c, d});
  check_gradients("cat four (more inputs than a node stores inline)", [](const Inputs& v) { return cat(v, -1); },
                  {a, c, d, random_leaf({2, 3}, -1, 1, 93)});
  // A zero-size piece contributes nothing.
  CHECK(cat({a, zeros({2, 0}, kFloat64)}, 1).shape() == Shape{2, 3});
  Tensor e = random_leaf({2, 3}, -1, 1, 91), f = random_leaf({2, 3}, -1, 1, 92);
  for (int axis : {0, 1, 2, -1, -3}) {
    check_gradients("stack axis " + std::to_string(axis), [axis](const Inputs& v) { return stack(v, axis); },
                    {a, e, f});
  }
  CHECK(stack({a, e, f}, 0).shape() == Shape{3, 2, 3});
  CHECK(stack({a, e}, -1).shape() == Shape{2, 3, 2});
  // By hand: cat((1, 2), (3)) and its gradient split back.
  Tensor p = param({1.0, 2.0}), q = param({3.0});
  const Tensor pq = cat({p, q});
  CHECK(values(pq) == std::vector<double>{1, 2, 3});
  auto g = tg::grad({pq}, {p, q}, {tensor({10.0, 20.0, 30.0}, kFloat64)});
  CHECK(values(g[0]) == std::vector<double>{10, 20});
  CHECK(values(g[1]) == std::vector<double>{30});
  CHECK(values(stack({p, p}, 1)) == std::vector<double>{1, 1, 2, 2});
}

TEST_CASE("shape ops: bad input raises tg::Error naming the op and the shapes") {
  const Tensor x = zeros({2, 3}, kFloat64);
  CHECK_THROWS_WITH(reshape(x, {4, 2}),
                    "reshape: cannot reshape a tensor of shape (2,3) (6 elements) into (4,2) (8 elements)");
  CHECK_THROWS_WITH(reshape(x, {4, -1}), "reshape: cannot reshape a tensor of shape (2,3) (6 elements) into (4,-1)");
  CHECK_THROWS_WITH(reshape(x, {-1, -1}), Catch::StartsWith("reshape: only one extent can be -1"));
  CHECK_THROWS_WITH(x.view({7}), Catch::StartsWith("reshape: cannot reshape a tensor of shape (2,3)"));
  CHECK_THROWS_WITH(flatten(x, 1, 0), "flatten: start axis 1 comes after end axis 0 for shape (2,3)");
  CHECK_THROWS_WITH(squeeze(x, 2), "squeeze: axis 2 is out of range for a tensor of shape (2,3)");
  CHECK_THROWS_WITH(unsqueeze(x, 3), "unsqueeze: axis 3 is out of range for a tensor of shape (2,3)");
  CHECK_THROWS_WITH(unsqueeze(x, -4), Catch::StartsWith("unsqueeze: axis -4 is out of range"));
  CHECK_THROWS_WITH(expand(x, {3, 3}), "expand: cannot broadcast shape (2,3) to (3,3)");
  CHECK_THROWS_WITH(expand(x, {3}), "expand: cannot broadcast shape (2,3) to (3)");
  CHECK_THROWS_WITH(slice(x, 2, 0, 1), "slice: axis 2 is out of range for a tensor of shape (2,3)");
  CHECK_THROWS_WITH(slice(x, 1, 0, 1, 0), "slice: slice step must be positive, got 0");
  CHECK_THROWS_WITH(select(x, 1, 3), "select: index 3 is out of range for axis 1 of size 3 (shape (2,3))");
  CHECK_THROWS_WITH(select(x, 0, -3), "select: index -3 is out of range for axis 0 of size 2 (shape (2,3))");
  CHECK_THROWS_WITH(getitem(x, {0, 1, 2}), "getitem: 3 indices for a tensor of shape (2,3)");
  CHECK_THROWS_WITH(getitem(x, {0, 5}), "getitem: index 5 is out of range for axis 1 of size 3 (shape (2,3))");
  CHECK_THROWS_WITH(getitem(x, {Slice(), -4}), "getitem: index -4 is out of range for axis 1 of size 3 (shape (2,3))");
  CHECK_THROWS_WITH(index_select(x, 0, indices({0, 2})),
                    "index_select: index 2 is out of range for axis 0 of size 2 (shape (2,3))");
  CHECK_THROWS_WITH(index_select(x, 1, indices({-1})), Catch::StartsWith("index_select: index -1 is out of range"));
  CHECK_THROWS_WITH(index_select(x, 0, indices({1, 1}, {0})), "index_select: index must be 1-D, got shape (1,1)");
  CHECK_THROWS_WITH(index_select(x, 0, zeros({1}, kFloat64)),
                    Catch::StartsWith("index_select: index must be an int64 tensor, got float64"));
  CHECK_THROWS_WITH(embedding(indices({0, 7}), zeros({3, 2}, kFloat64)),
                    "embedding: index 7 is out of range for a weight of shape (3,2)");
  CHECK_THROWS_WITH(embedding(indices({0}), zeros({3}, kFloat64)), Catch::StartsWith("embedding: weight must be 2-D"));
  CHECK_THROWS_WITH(gather(x, 1, indices({0, 2})),
                    "gather: index of shape (2) must have the same rank as the input (2,3)");
  CHECK_THROWS_WITH(gather(x, 1, indices({{0, 3}})),
                    "gather: index 3 is out of range for axis 1 of size 3 (shape (2,3))");
  CHECK_THROWS_WITH(gather(x, 1, indices({3, 1}, {0, 1, 2})),
                    Catch::StartsWith("gather: index shape (3,1) exceeds input shape (2,3)"));
  CHECK_THROWS_WITH(gather(x, 2, indices({1, 1}, {0})), Catch::StartsWith("gather: axis 2 is out of range"));
  CHECK_THROWS_WITH(scatter_add({2, 3}, 1, indices({{0, 1}}), zeros({1, 3}, kFloat64)),
                    "scatter_add: source of shape (1,3) must match index shape (1,2)");
  CHECK_THROWS_WITH(cat({x, zeros({2, 4}, kFloat64)}, 0),
                    "cat: tensor 1 has float64(2,4) but tensor 0 has float64(2,3) (all extents but axis 0 must match)");
  CHECK_THROWS_WITH(cat({x, zeros({2}, kFloat64)}, 0),
                    Catch::StartsWith("cat: tensor 1 has float64(2) but tensor 0 has float64(2,3)"));
  CHECK_THROWS_WITH(cat({x, zeros({2, 3})}, 0),
                    Catch::StartsWith("cat: tensor 1 has float32(2,3) but tensor 0 has float64(2,3)"));
  CHECK_THROWS_WITH(cat({}, 0), "cat: needs at least one tensor");
  CHECK_THROWS_WITH(cat({x}, 2), "cat: axis 2 is out of range for a tensor of shape (2,3)");
  CHECK_THROWS_WITH(cat({zeros({}, kFloat64)}, 0),
                    Catch::StartsWith("cat: zero-dimensional tensors cannot be concatenated"));
  CHECK_THROWS_WITH(
      stack({x, zeros({3, 2}, kFloat64)}),
      "stack: tensor 1 has float64(3,2) but tensor 0 has float64(2,3) (all must have one shape and dtype)");
  CHECK_THROWS_WITH(stack({x, zeros({2, 3})}),
                    Catch::StartsWith("stack: tensor 1 has float32(2,3) but tensor 0 has float64(2,3)"));
  CHECK_THROWS_WITH(stack({x}, 3), Catch::StartsWith("stack: axis 3 is out of range"));
}

TEST_CASE("shape ops: zero-size tensors pass through, with zero-size gradients") {
  const Tensor e = zeros({2, 0, 3}, kFloat64).requires_grad_();
  CHECK(permute(e, {2, 0, 1}).shape() == Shape{3, 2, 0});
  CHECK(expand(zeros({0, 3}, kFloat64), {2, 0, 3}).shape() == Shape{2, 0, 3});
  CHECK(expand(zeros({1, 3}, kFloat64), {0, 3}).shape() == Shape{0, 3});
  CHECK((e + zeros({1, 3}, kFloat64)).shape() == Shape{2, 0, 3});
  CHECK(where(zeros({0, 3}, kBool), zeros({0, 3}, kFloat64), 1.0).shape() == Shape{0, 3});
  CHECK(cat({zeros({0, 3}, kFloat64), zeros({2, 3}, kFloat64)}, 0).shape() == Shape{2, 3});
  CHECK(stack({e, e}, 1).shape() == Shape{2, 2, 0, 3});
  CHECK(index_select(e, 2, indices({0, 2})).shape() == Shape{2, 0, 2});
  CHECK(gather(zeros({0, 3}, kFloat64), 1, indices({0, 2}, {})).shape() == Shape{0, 2});
  CHECK(slice(e, 1, 0, 5).shape() == Shape{2, 0, 3});
  CHECK(embedding(indices({0}, {}), zeros({3, 2}, kFloat64)).shape() == Shape{0, 2});
  CHECK_THROWS_WITH(select(e, 1, 0), "select: index 0 is out of range for axis 1 of size 0 (shape (2,0,3))");
  const Tensor y = sum(reshape(permute(e, {2, 0, 1}), {-1, 3}) * 2.0) + sum(slice(e, 2, 1, 3));
  CHECK(at(y, 0) == 0.0);
  CHECK(tg::grad({y}, {e})[0].shape() == Shape{2, 0, 3});
}
