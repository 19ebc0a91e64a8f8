#include "ffm/index/index_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "ffm/io/errors.h"
#include "ffm/io/fd_io.h"
#include "ffm/tfrecord/format.h"

namespace ffm {

namespace index_format {

namespace {

void PutU64(std::string* out, uint64_t v) {
  char b[8];
  tfrecord::EncodeFixed64(b, v);
  out->append(b, 8);
}

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  tfrecord::EncodeFixed32(b, v);
  out->append(b, 4);
}

}  // namespace

std::string EncodeHeader(const Header& h) {
  std::string out(kMagic, 8);
  PutU64(&out, h.num_files);
  PutU64(&out, h.num_records);
  PutU64(&out, h.block_records);
  PutU64(&out, h.files_offset);
  PutU64(&out, h.files_bytes);
  PutU32(&out, h.files_crc);
  PutU32(&out, tfrecord::MaskCrc(tfrecord::Crc32c(out)));
  out.resize(kHeaderSize, '\0');
  return out;
}

bool DecodeHeader(absl::string_view bytes, Header* h) {
  if (bytes.size() < kHeaderSize || bytes.substr(0, 8) != kMagic) return false;
  const char* p = bytes.data();
  if (tfrecord::MaskCrc(tfrecord::Crc32c(bytes.substr(0, 52))) !=
          tfrecord::DecodeFixed32(p + 52) ||
      tfrecord::DecodeFixed64(p + 56) != 0) {  // the padding is zero
    return false;
  }
  h->num_files = tfrecord::DecodeFixed64(p + 8);
  h->num_records = tfrecord::DecodeFixed64(p + 16);
  h->block_records = tfrecord::DecodeFixed64(p + 24);
  h->files_offset = tfrecord::DecodeFixed64(p + 32);
  h->files_bytes = tfrecord::DecodeFixed64(p + 40);
  h->files_crc = tfrecord::DecodeFixed32(p + 48);
  return true;
}

std::string EncodeFile(const IndexedFile& f) {
  std::string out;
  PutU32(&out, static_cast<uint32_t>(f.uri.size()));
  out.append(f.uri);
  PutU64(&out, f.size);
  PutU64(&out, static_cast<uint64_t>(f.mtime_ns));
  PutU64(&out, f.num_records);
  PutU64(&out, f.records_end);
  return out;
}

bool DecodeFiles(absl::string_view bytes, uint64_t num_files,
                 std::vector<IndexedFile>* files) {
  constexpr size_t kFixed = 4 + 4 * 8;  // all but the uri
  if (num_files > bytes.size() / kFixed) return false;
  files->clear();
  files->reserve(num_files);
  for (uint64_t i = 0; i < num_files; ++i) {
    if (bytes.size() < 4) return false;
    const uint32_t uri_len = tfrecord::DecodeFixed32(bytes.data());
    if (bytes.size() < kFixed + uri_len) return false;
    const char* p = bytes.data() + 4;
    IndexedFile f;
    f.uri.assign(p, uri_len);
    p += uri_len;
    f.size = tfrecord::DecodeFixed64(p);
    f.mtime_ns = static_cast<int64_t>(tfrecord::DecodeFixed64(p + 8));
    f.num_records = tfrecord::DecodeFixed64(p + 16);
    f.records_end = tfrecord::DecodeFixed64(p + 24);
    files->push_back(std::move(f));
    bytes.remove_prefix(kFixed + uri_len);
  }
  return bytes.empty();
}

}  // namespace index_format

// Where the bytes go: appended in order, the header patched in at the end.
class IndexWriter::Sink {
 public:
  virtual ~Sink() = default;
  virtual absl::Status Append(absl::string_view bytes) = 0;
  virtual absl::StatusOr<std::string> Finish(absl::string_view header) = 0;
};

namespace {

class StringSink final : public IndexWriter::Sink {
 public:
  absl::Status Append(absl::string_view bytes) override {
    out_.append(bytes);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Finish(absl::string_view header) override {
    out_.replace(0, header.size(), header);
    return std::move(out_);
  }

 private:
  std::string out_;
};

class FileSink final : public IndexWriter::Sink {
 public:
  FileSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~FileSink() override {
    if (fd_ >= 0) {
      close(fd_);
      unlink(Tmp().c_str());
    }
  }
  absl::Status Append(absl::string_view bytes) override {
    if (!WriteFull(fd_, bytes.data(), bytes.size())) {
      return ErrnoToStatus(errno, absl::StrCat(Tmp(), ": write failed"));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Finish(absl::string_view header) override {
    if (pwrite(fd_, header.data(), header.size(), 0) !=
            static_cast<ssize_t>(header.size()) ||
        fsync(fd_) != 0) {
      return ErrnoToStatus(errno, absl::StrCat(Tmp(), ": write failed"));
    }
    close(fd_);
    fd_ = -1;
    if (rename(Tmp().c_str(), path_.c_str()) != 0) {
      int e = errno;
      unlink(Tmp().c_str());
      return ErrnoToStatus(e, absl::StrCat(path_, ": rename failed"));
    }
    return std::string();
  }
  std::string Tmp() const { return path_ + ".tmp"; }

 private:
  const std::string path_;
  int fd_;
};

}  // namespace

IndexWriter::IndexWriter(std::unique_ptr<Sink> sink) : sink_(std::move(sink)) {}
IndexWriter::IndexWriter(IndexWriter&&) = default;
IndexWriter& IndexWriter::operator=(IndexWriter&&) = default;
IndexWriter::~IndexWriter() = default;

IndexWriter IndexWriter::ToString() {
  IndexWriter w(std::make_unique<StringSink>());
  w.sink_->Append(std::string(index_format::kHeaderSize, '\0')).IgnoreError();
  return w;
}

absl::StatusOr<IndexWriter> IndexWriter::ToFile(const std::string& path) {
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat(tmp, ": open failed"));
  IndexWriter w(std::make_unique<FileSink>(path, fd));
  absl::Status s = w.sink_->Append(std::string(index_format::kHeaderSize, '\0'));
  if (!s.ok()) return s;
  return w;
}

absl::Status IndexWriter::AddFile(IndexedFile file,
                                  absl::Span<const uint64_t> lengths) {
  if (lengths.size() != file.num_records) {
    return absl::InvalidArgumentError(absl::StrCat(
        file.uri, ": ", lengths.size(), " record lengths for ",
        file.num_records, " records"));
  }
  uint64_t offset = 0;
  for (size_t j = 0; j < lengths.size(); ++j) {
    // Checked before adding, so huge lengths cannot wrap around.
    if (lengths[j] > file.size ||
        file.size - offset < tfrecord::FramedSize(lengths[j])) {
      return absl::InvalidArgumentError(absl::StrCat(
          file.uri, ": indexed records run past the file's ", file.size,
          " bytes at record ", j));
    }
    char b[8];
    tfrecord::EncodeFixed64(b, offset);
    block_.append(b, 8);
    offset += tfrecord::FramedSize(lengths[j]);
    if (++num_records_ % RecordIndex::kBlockRecords == 0) {
      absl::Status s = FlushBlock();
      if (!s.ok()) return s;
    }
  }
  file.records_end = offset;
  file_table_.append(index_format::EncodeFile(file));
  ++num_files_;
  return absl::OkStatus();
}

absl::Status IndexWriter::FlushBlock() {
  if (block_.empty()) return absl::OkStatus();
  char b[4];
  tfrecord::EncodeFixed32(b, tfrecord::MaskCrc(tfrecord::Crc32c(block_)));
  block_crcs_.append(b, 4);
  absl::Status s = sink_->Append(block_);
  block_.clear();
  return s;
}

absl::StatusOr<std::string> IndexWriter::Finish() {
  absl::Status s = FlushBlock();
  if (s.ok()) s = sink_->Append(block_crcs_);
  if (s.ok()) s = sink_->Append(file_table_);
  if (!s.ok()) return s;
  index_format::Header h;
  h.num_files = num_files_;
  h.num_records = num_records_;
  h.block_records = RecordIndex::kBlockRecords;
  h.files_offset = index_format::kHeaderSize + 8 * num_records_ + block_crcs_.size();
  h.files_bytes = file_table_.size();
  h.files_crc = tfrecord::MaskCrc(tfrecord::Crc32c(file_table_));
  return sink_->Finish(index_format::EncodeHeader(h));
}

}  // namespace ffm
