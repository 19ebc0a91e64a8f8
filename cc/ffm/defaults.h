// The engine's tuning defaults, in one place: the option structs and the op
// registrations take them from here (Python's are in tf_ffm/_defaults.py and
// must agree; tests/test_dataset_api.py checks that they do).
#ifndef FFM_DEFAULTS_H_
#define FFM_DEFAULTS_H_

#include <chrono>
#include <cstdint>

namespace ffm {
namespace defaults {

// AWS guidance for ranged GETs is 8-16 MB, ~85-90 MB/s per connection.
inline constexpr uint64_t kChunkSize = 8ull << 20;
// A file's first read: small, so the first record arrives fast.
inline constexpr uint64_t kFirstChunkSize = 1ull << 20;
// Readahead across all files an iterator has open.
inline constexpr uint64_t kMemoryBudget = 256ull << 20;
// Reads in flight per iterator.
inline constexpr int kIoThreads = 16;
// Reads from a local disk or the page cache: one at a time, into a buffer
// that stays in the CPU's cache (as the stock reader's 256 KiB buffer does),
// so a record is copied out of it without a trip through DRAM.
inline constexpr uint64_t kLocalReadSize = 256ull << 10;
// On FUSE and network mounts: each of this many lanes reads runs of this
// many bytes in sequence on one descriptor, which the mount serves as one
// stream (one request, its own readahead) instead of a request per chunk.
// Measured on an rclone mount (20 ms, 90 MB/s per connection), None, ~150
// KiB records: 16 lanes x 8 MiB (one chunk) 181-207 MB/s, 8 x 32 MiB
// 251-255, 4 x 32 MiB 294-330, 4 x 64 MiB 269-274.
inline constexpr uint64_t kMountRunSize = 32ull << 20;
inline constexpr int kMountStreams = 4;
// How long destroying a reader waits for reads already running before it
// leaves them to finish in the background: a stalled request ends only at
// the transfer's stall timeout (S3Config::request_timeout_s).
inline constexpr std::chrono::milliseconds kAbandonAfter{1000};

}  // namespace defaults
}  // namespace ffm

#endif  // FFM_DEFAULTS_H_
