#include "ffm/io/s3_fs_options.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace ffm {
namespace {

S3FsOptions::Getenv Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(S3FsOptionsTest, DefaultsWhenUnset) {
  auto o = S3FsOptions::FromEnv(Env({}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->write.parts_in_flight, S3WriteOptions().parts_in_flight);
  EXPECT_EQ(o->readahead_bytes, S3FsOptions().readahead_bytes);
}

TEST(S3FsOptionsTest, ReadsTheVariables) {
  auto o = S3FsOptions::FromEnv(Env({{"TF_FFM_S3_PARTS_IN_FLIGHT", "3"},
                                     {"TF_FFM_S3_READAHEAD", "8388608"}}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->write.parts_in_flight, 3);
  EXPECT_EQ(o->readahead_bytes, 8u << 20);
  EXPECT_EQ(o->readahead_per_file, 8u << 20);  // never above the total
}

TEST(S3FsOptionsTest, BadValuesNameTheVariable) {
  for (auto [name, value] : std::map<std::string, std::string>{
           {"TF_FFM_S3_PARTS_IN_FLIGHT", "0"},
           {"TF_FFM_S3_PARTS_IN_FLIGHT", "many"},
           {"TF_FFM_S3_READAHEAD", "1000"}}) {
    auto o = S3FsOptions::FromEnv(Env({{name, value}}));
    ASSERT_FALSE(o.ok()) << name << "=" << value;
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(o.status().message().find(name), std::string::npos)
        << o.status();
  }
}

}  // namespace
}  // namespace ffm
