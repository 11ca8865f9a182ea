// Compiles Boost.JSON and Boost.URL into the fuzz targets with coverage instrumentation, in place
// of the installed libraries (see CMakeLists.txt).
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
