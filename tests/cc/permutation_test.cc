// Permutation: a bijection of [0, n) for every n (sizes around powers of
// two, where cycle walking matters), fixed by its seed, and shuffled.
#include "ffm/reader/permutation.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace ffm {
namespace {

TEST(PermutationTest, IsABijectionOfZeroToN) {
  for (uint64_t n : {0, 1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 1000, 4097}) {
    for (uint64_t seed : {uint64_t{0}, uint64_t{7}, ~uint64_t{0}}) {
      Permutation p(n, seed);
      std::vector<int> hits(n, 0);
      for (uint64_t i = 0; i < n; ++i) {
        const uint64_t x = p(i);
        ASSERT_LT(x, n) << "n " << n << " seed " << seed;
        ++hits[x];
      }
      for (uint64_t x = 0; x < n; ++x) {
        ASSERT_EQ(hits[x], 1) << "n " << n << " seed " << seed << " x " << x;
      }
    }
  }
}

TEST(PermutationTest, SameSeedSameOrderOtherSeedsOtherOrders) {
  const uint64_t n = 500;
  Permutation a(n, 42), b(n, 42), c(n, 43);
  int moved = 0, differ = 0;
  for (uint64_t i = 0; i < n; ++i) {
    EXPECT_EQ(a(i), b(i));
    moved += a(i) != i;
    differ += a(i) != c(i);
  }
  // A shuffle leaves about one element in place; allow a few.
  EXPECT_GT(moved, static_cast<int>(n) - 10);
  EXPECT_GT(differ, static_cast<int>(n) - 10);
}

TEST(PermutationTest, HugeDomainsStayInRange) {
  for (uint64_t n : {uint64_t{1} << 40, (uint64_t{1} << 62) + 3, ~uint64_t{0}}) {
    Permutation p(n, 1);
    for (uint64_t i : {uint64_t{0}, n / 2, n - 1}) EXPECT_LT(p(i), n);
  }
}

}  // namespace
}  // namespace ffm
