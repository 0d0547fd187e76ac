# Imported targets for the libraries tapegrad links privately, made from what find_package and
# find_library report on the machine that configures. The build links them, and the installed
# tapegradConfig.cmake includes this file again on the user's machine, so the installed package
# names no library path of the build machine (Debian's OpenBLAS, for one, lives in a directory
# chosen by update-alternatives: openblas-pthread or openblas-openmp).
include_guard(GLOBAL)

if(NOT TARGET tapegrad::openblas)
  add_library(tapegrad::openblas INTERFACE IMPORTED)
  set_target_properties(tapegrad::openblas PROPERTIES
    INTERFACE_LINK_LIBRARIES "${OpenBLAS_LIBRARIES}"
    INTERFACE_INCLUDE_DIRECTORIES "${OpenBLAS_INCLUDE_DIRS}")
endif()

# glibc's vector math library, when the build used it (TAPEGRAD_HAVE_LIBMVEC).
if(TAPEGRAD_HAVE_LIBMVEC AND NOT TARGET tapegrad::mvec)
  find_library(TAPEGRAD_LIBMVEC mvec)
  if(NOT TAPEGRAD_LIBMVEC)
    message(FATAL_ERROR "tapegrad was built with glibc's libmvec, which this machine lacks (glibc 2.35+ on x86-64)")
  endif()
  add_library(tapegrad::mvec INTERFACE IMPORTED)
  set_target_properties(tapegrad::mvec PROPERTIES INTERFACE_LINK_LIBRARIES "${TAPEGRAD_LIBMVEC}")
endif()
