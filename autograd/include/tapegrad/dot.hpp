/// \file
/// Graph export: the recorded graph behind some tensors as Graphviz DOT, like micrograd's
/// draw_dot. Render with `dot -Tsvg graph.dot -o graph.svg`.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg {

/// Writes the graph that produced `roots`: one box per op (name and output shape), one ellipse
/// per leaf (its name if set, shape and dtype; parameters, i.e. leaves requiring grad, are
/// highlighted, constants grey), edges from inputs to the ops that use them. Freed nodes are
/// drawn dashed.
void write_dot(std::ostream& os, const std::vector<Tensor>& roots);
/// The DOT text write_dot() writes, as a string.
std::string to_dot(const std::vector<Tensor>& roots);
/// Writes to a file atomically (temp file + rename).
void save_dot(const std::string& path, const std::vector<Tensor>& roots);

}  // namespace tg
