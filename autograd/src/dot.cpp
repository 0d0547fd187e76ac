// Graphviz export of recorded graphs. Walks the tape backwards from the roots (no recursion).
#include "tapegrad/dot.hpp"

#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "tapegrad/file_io.hpp"
#include "tapegrad/tape.hpp"

namespace tg {

namespace {

std::string id_of(const detail::TensorImpl* impl) {
  std::ostringstream os;
  os << "t" << static_cast<const void*>(impl);
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
  std::set<const Node*> marked;
  std::set<const detail::TensorImpl*> leaves_written;
  std::uint64_t top = 0;
  bool any = false;
  Tape& tape = Tape::current();
  for (const Tensor& r : roots) {
    if (!r.defined()) continue;
    const Node* n = r.impl()->node;
    if (!n) {
      if (leaves_written.insert(r.impl()).second) write_leaf(os, r);
      continue;
    }
    if (n->tape != &tape) fail("write_dot: a root was recorded on another thread's tape");
    marked.insert(n);
    top = any ? std::max(top, n->index) : n->index;
    any = true;
  }
  if (any) {
    for (std::uint64_t i = top + 1; i-- > tape.begin_index();) {
      const Node& n = tape.at(i);
      if (!marked.count(&n)) continue;
      const std::string id = id_of(n.output.impl());
      os << "  " << id << " [shape=box, style=\"rounded" << (n.state == Node::State::freed ? ",dashed" : "")
         << "\", label=\"" << escape(n.name) << "\\n" << to_string(n.output.shape()) << "\"];\n";
      for (std::size_t k = 0; k < n.num_inputs(); ++k) {
        const Tensor& in = n.input(k);
        if (!in.defined()) continue;
        if (const Node* p = in.impl()->node) {
          marked.insert(p);
        } else if (leaves_written.insert(in.impl()).second) {
          write_leaf(os, in);
        }
        os << "  " << id_of(in.impl()) << " -> " << id << ";\n";
      }
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
