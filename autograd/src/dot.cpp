// Graphviz export of recorded graphs. Walks the nodes from the roots' back (no recursion).
#include "tapegrad/dot.hpp"

#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "tapegrad/file_io.hpp"
#include "tape.hpp"

namespace tg {

namespace {

std::string id_of(const detail::TensorImpl* impl) {
  std::ostringstream os;
  os << "t" << static_cast<const void*>(impl);
  return os.str();
}

std::string id_of(const Node* node) {
  std::ostringstream os;
  os << "n" << static_cast<const void*>(node);
  return os.str();
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

void write_leaf(std::ostream& os, const Tensor& t) {
  const auto* impl = t.impl();
  std::string label = impl->name.empty() ? "" : impl->name + "\\n";
  label += to_string(t.shape()) + " " + to_string(t.dtype());
  const char* style = t.requires_grad() ? "filled\", fillcolor=\"#cfe8ff" : "filled\", fillcolor=\"#eeeeee";
  os << "  " << id_of(impl) << " [shape=ellipse, style=\"" << style << "\", label=\"" << escape(label) << "\"];\n";
}

}  // namespace

void write_dot(std::ostream& os, const std::vector<Tensor>& roots) {
  os << "digraph tapegrad {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  std::set<const Node*> seen;
  std::set<const detail::TensorImpl*> leaves_written;
  std::vector<const Node*> stack;
  for (const Tensor& r : roots) {
    if (!r.defined()) continue;
    const Node* n = r.impl()->grad_fn;
    if (!n) {
      if (leaves_written.insert(r.impl()).second) write_leaf(os, r);
    } else if (seen.insert(n).second) {
      stack.push_back(n);
    }
  }
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    const std::string id = id_of(n);
    const bool freed = n->released.load();
    os << "  " << id << " [shape=box, style=\"rounded" << (freed ? ",dashed" : "")
       << "\", label=\"" << escape(n->name) << "\\n" << to_string(n->output_shape.to_shape())
       << "\"];\n";
    for (std::size_t k = 0; k < n->num_inputs; ++k) {
      const Node::Input& in = n->input(k);
      if (const Node* p = in.producer.get()) {
        if (seen.insert(p).second) stack.push_back(p);
        os << "  " << id_of(p) << " -> " << id << ";\n";
        continue;
      }
      // A leaf that requires grad, or a constant the backward reads.
      const Tensor& t = in.leaf.defined() ? in.leaf : in.saved;
      if (!t.defined() || !t.is_leaf()) continue;
      if (leaves_written.insert(t.impl()).second) write_leaf(os, t);
      os << "  " << id_of(t.impl()) << " -> " << id << ";\n";
    }
  }
  os << "}\n";
}

std::string to_dot(const std::vector<Tensor>& roots) {
  std::ostringstream os;
  write_dot(os, roots);
  return os.str();
}

void save_dot(const std::string& path, const std::vector<Tensor>& roots) {
  write_file_atomically(path, to_dot(roots), "save_dot");
}

}  // namespace tg
