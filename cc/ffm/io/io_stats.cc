#include "ffm/io/io_stats.h"

namespace ffm {

IoStats& IoStats::Global() {
  static IoStats* stats = new IoStats;  // never destroyed: used at exit
  return *stats;
}

}  // namespace ffm
