// What <tapegrad/tapegrad.hpp> brings into a user's file, checked in a file that includes
// nothing before it (Catch2 itself includes <functional>, so the check cannot live beside tests).
#include "tapegrad/tapegrad.hpp"

// xtensor stays behind tapegrad/xtensor.hpp, and <functional> (with <unordered_map> and the
// searchers) behind tg::Callback: together they were most of the header's compile time.
#ifdef XTENSOR_VERSION_MAJOR
#error "tapegrad/tapegrad.hpp includes xtensor; keep it behind tapegrad/xtensor.hpp"
#endif
#if defined(_GLIBCXX_FUNCTIONAL) || defined(_LIBCPP_FUNCTIONAL)
#error "tapegrad/tapegrad.hpp includes <functional>; public headers take tg::Callback instead"
#endif

namespace tg::testing {
// Referenced from test_light_header.cpp, so this file is linked and its checks compiled.
int header_weight_checked() { return 1; }
}  // namespace tg::testing
