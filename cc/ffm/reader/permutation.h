// A seeded bijection of [0, n), computed at any position in O(1) memory: a
// Feistel network over the smallest even number of bits covering n, with
// cycle walking back into range. An epoch's shuffled order of a billion
// records is then a function, not a table of 8 GB per worker, and a
// checkpoint or a shard can start anywhere in it.
#ifndef FFM_READER_PERMUTATION_H_
#define FFM_READER_PERMUTATION_H_

#include <cstdint>

namespace ffm {

// SplitMix64's finaliser: a fast, well-mixed 64-bit hash.
uint64_t Mix64(uint64_t x);

class Permutation {
 public:
  Permutation(uint64_t n, uint64_t seed);
  uint64_t size() const { return n_; }
  // The image of `i` (< size()).
  uint64_t operator()(uint64_t i) const;

 private:
  static constexpr int kRounds = 6;
  uint64_t Encrypt(uint64_t x) const;

  uint64_t n_;
  int half_bits_ = 1;
  uint64_t half_mask_ = 1;
  uint64_t keys_[kRounds];
};

}  // namespace ffm

#endif  // FFM_READER_PERMUTATION_H_
