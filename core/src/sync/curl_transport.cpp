// The libcurl Transport: one easy handle, reused, so the connection is kept alive.
#include <curl/curl.h>

#include <mutex>

#include "eropaf/sync.hpp"

namespace eropaf::sync {
namespace {

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(CurlOptions o) : opts_(std::move(o)), curl_(curl_easy_init()) {}
  ~CurlTransport() override {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
  }

  bool ok() const { return curl_ != nullptr; }

  Result<HttpResponse> send(const HttpRequest& req) override {
    cancelled_ = false;
    HttpResponse res;
    body_.clear();
    too_large_ = false;
    std::string url = opts_.base_url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += req.path;
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, ("Content-Type: " + req.content_type).c_str());
    headers = curl_slist_append(headers, "Expect:");
    if (!req.bearer_token.empty()) {
      headers = curl_slist_append(headers, ("Authorization: Bearer " + req.bearer_token).c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    if (req.method == "POST") {
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts_.connect_timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &CurlTransport::onData);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, &CurlTransport::onProgress);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, opts_.verify_tls ? 1L : 0L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, opts_.verify_tls ? 2L : 0L);
    if (!opts_.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, opts_.ca_file.c_str());
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (too_large_) {
      return Status(ErrorCode::kTooLarge, "the server's answer is larger than " +
                                              std::to_string(opts_.max_response_bytes) + " bytes");
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK) return Status(ErrorCode::kCancelled, "request cancelled");
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return Status(ErrorCode::kTimeout, "no answer from " + opts_.base_url + " in time");
    }
    if (rc != CURLE_OK) {
      return Status(ErrorCode::kNetwork,
                    "cannot reach " + opts_.base_url + ": " + curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    char* ct = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_CONTENT_TYPE, &ct);
    res.status = static_cast<int>(status);
    res.content_type = ct != nullptr ? ct : "";
    res.body = std::move(body_);
    return res;
  }

  void cancel() override { cancelled_ = true; }

 private:
  static size_t onData(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<CurlTransport*>(self_ptr);
    const size_t bytes = size * n;
    if (self->body_.size() + bytes > self->opts_.max_response_bytes) {
      self->too_large_ = true;
      return 0;  // makes libcurl stop with a write error
    }
    self->body_.append(data, bytes);
    return bytes;
  }

  static int onProgress(void* self_ptr, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<CurlTransport*>(self_ptr)->cancelled_.load() ? 1 : 0;
  }

  CurlOptions opts_;
  CURL* curl_;
  std::string body_;
  bool too_large_ = false;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

Result<std::unique_ptr<Transport>> makeCurlTransport(CurlOptions options) {
  if (options.base_url.rfind("http://", 0) != 0 && options.base_url.rfind("https://", 0) != 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "server URL must start with http:// or https://", "server_url");
  }
  // libcurl's one piece of process-wide set-up; thread-safe since 7.84, done once.
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  auto t = std::make_unique<CurlTransport>(std::move(options));
  if (!t->ok()) return Status(ErrorCode::kInternal, "libcurl could not create a handle");
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace eropaf::sync
