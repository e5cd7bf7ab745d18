#pragma once
// Errors raised by the imaging core. Messages are written for the user: they
// name the file, say what is wrong and, where possible, what to do.

#include <stdexcept>
#include <string>

namespace rllm {

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Long work (training, the demo) stopped because the user asked it to.
class Cancelled : public Error {
  public:
    Cancelled() : Error("cancelled") {}
};

// A file could not be read or written: missing, unsupported, corrupt, truncated.
class FileError : public Error {
  public:
    FileError(const std::string& path, const std::string& problem, const std::string& advice = {})
        : Error(compose(path, problem, advice)), path_(path) {}
    const std::string& path() const { return path_; }

  private:
    static std::string compose(const std::string& path, const std::string& problem,
                               const std::string& advice) {
        std::string message = "'" + path + "': " + problem;
        if (!advice.empty()) message += " " + advice;
        return message;
    }
    std::string path_;
};

}  // namespace rllm
