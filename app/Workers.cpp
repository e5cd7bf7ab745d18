#include "app/Workers.h"

#include "app/CliSupport.h"
#include "core/Error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>

namespace rllm::cli {

namespace {

const char* variable(const char* name) {
    const char* value = std::getenv(name);
    return value && *value ? value : nullptr;
}

int integerVariable(const char* name, int fallback, int minimum) {
    const char* text = variable(name);
    if (!text) return fallback;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (*end != '\0' || value < minimum || value > 1000000)
        throw UsageError(std::string("the environment variable ") + name + "='" + text +
                         "' is not a whole number of at least " + std::to_string(minimum));
    return static_cast<int>(value);
}

// A port nothing listens on now (the kernel picks it); rank 0 binds it soon after.
int freeLoopbackPort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw Error(std::string("no socket for the workers: ") + std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    close(fd);
    if (!ok) throw Error(std::string("no free port for the workers: ") + std::strerror(errno));
    return ntohs(address.sin_port);
}

std::string describeStatus(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    return "stopped";
}

}  // namespace

DistributedOptions distributedFromEnvironment(int timeoutSeconds) {
    DistributedOptions d;
    d.timeoutSeconds = timeoutSeconds;
    const bool torchStyle = variable("WORLD_SIZE") || variable("RANK");
    const bool slurm = !torchStyle && variable("SLURM_NTASKS") && variable("SLURM_PROCID");
    if (torchStyle) {
        d.worldSize = integerVariable("WORLD_SIZE", 1, 1);
        d.rank = integerVariable("RANK", 0, 0);
        d.localRank = integerVariable("LOCAL_RANK", 0, 0);
        d.localWorldSize = integerVariable("LOCAL_WORLD_SIZE", 1, 1);
        if (d.worldSize > 1 && !variable("RANK"))
            throw UsageError(
                "WORLD_SIZE is " + std::to_string(d.worldSize) +
                " but RANK is not set: each worker needs its RANK (0 .. WORLD_SIZE-1)");
    } else if (slurm) {
        d.worldSize = integerVariable("SLURM_NTASKS", 1, 1);
        d.rank = integerVariable("SLURM_PROCID", 0, 0);
        d.localRank = integerVariable("SLURM_LOCALID", 0, 0);
        // "2" or "2(x3)": the tasks on each node.
        if (const char* perNode = variable("SLURM_NTASKS_PER_NODE"))
            d.localWorldSize = std::max(1, std::atoi(perNode));
    }
    if (d.worldSize == 1) return d;
    if (d.rank >= d.worldSize)
        throw UsageError("RANK " + std::to_string(d.rank) + " is not below WORLD_SIZE " +
                         std::to_string(d.worldSize));
    if (d.localRank >= d.localWorldSize && variable("LOCAL_WORLD_SIZE"))
        throw UsageError("LOCAL_RANK " + std::to_string(d.localRank) +
                         " is not below LOCAL_WORLD_SIZE " + std::to_string(d.localWorldSize));
    const char* address = variable("MASTER_ADDR");
    if (!address)
        throw UsageError("a run of " + std::to_string(d.worldSize) +
                         " workers needs MASTER_ADDR (the host of rank 0) and MASTER_PORT");
    d.masterAddr = address;
    d.masterPort = integerVariable("MASTER_PORT", 29500, 1);
    if (d.masterPort > 65535) throw UsageError("MASTER_PORT must be below 65536");
    return d;
}

const char* const kWorkerOptionsHelp =
    "  --nproc N            run as N workers on this machine, each with a share of the work\n"
    "  --worker-timeout S   a worker waiting longer than S s for the others fails the run (300)\n"
    "  (a worker started by torchrun, srun or a job system is configured by RANK, WORLD_SIZE,\n"
    "  LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT; docs/distributed.md)\n";

std::optional<int> startWorkersIfAsked(const std::string& command, const ParsedArgs& parsed,
                                       const std::vector<std::string>& args,
                                       DistributedOptions& distributed) {
    const int timeout = static_cast<int>(parsed.getInt("worker-timeout", 300));
    if (timeout <= 0) throw UsageError("--worker-timeout must be positive");
    if (!parsed.has("nproc")) {
        distributed = distributedFromEnvironment(timeout);
        return std::nullopt;
    }
    std::vector<std::string> workerArgs;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--nproc") {
            ++i;
            continue;
        }
        if (args[i].rfind("--nproc=", 0) == 0) continue;
        workerArgs.push_back(args[i]);
    }
    return runLocalWorkers(static_cast<int>(parsed.getInt("nproc", 1)), command, workerArgs,
                           timeout);
}

int runLocalWorkers(int workers, const std::string& command, const std::vector<std::string>& args,
                    int timeoutSeconds) {
    if (workers < 1) throw UsageError("--nproc needs at least one worker");
    if (variable("WORLD_SIZE") || variable("RANK"))
        throw UsageError(
            "--nproc starts its own workers; it is not for a process that already "
            "is one (RANK / WORLD_SIZE are set)");
    const std::string port = std::to_string(freeLoopbackPort());
    std::vector<std::string> argv{"rllm", command};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cArgv;
    for (std::string& a : argv) cArgv.push_back(a.data());
    cArgv.push_back(nullptr);

    std::map<pid_t, int> rankOf;
    for (int rank = 0; rank < workers; ++rank) {
        std::cout.flush();
        std::cerr.flush();
        const pid_t pid = fork();
        if (pid < 0) throw Error(std::string("could not start a worker: ") + std::strerror(errno));
        if (pid == 0) {
            setenv("RANK", std::to_string(rank).c_str(), 1);
            setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
            setenv("WORLD_SIZE", std::to_string(workers).c_str(), 1);
            setenv("LOCAL_WORLD_SIZE", std::to_string(workers).c_str(), 1);
            setenv("MASTER_ADDR", "127.0.0.1", 1);
            setenv("MASTER_PORT", port.c_str(), 1);
            execv("/proc/self/exe", cArgv.data());
            std::cerr << "rllm " << command << ": could not start worker " << rank << ": "
                      << std::strerror(errno) << "\n";
            _exit(127);
        }
        rankOf[pid] = rank;
    }

    int result = 0;
    using Clock = std::chrono::steady_clock;
    Clock::time_point deadline = Clock::time_point::max();
    bool terminated = false;
    while (!rankOf.empty()) {
        int status = 0;
        const pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0 && rankOf.count(pid)) {
            const int rank = rankOf[pid];
            rankOf.erase(pid);
            const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (!ok) {
                std::cerr << "rllm " << command << ": worker " << rank << " (pid " << pid << ") "
                          << describeStatus(status) << "\n";
                if (result == 0) {
                    result = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
                    // The others notice a lost peer at their next collective;
                    // a worker stuck elsewhere is not waited for beyond the time-out.
                    deadline = Clock::now() + std::chrono::seconds(timeoutSeconds);
                }
            }
            continue;
        }
        if (pid < 0 && errno != EINTR) break;
        if (Clock::now() > deadline && !rankOf.empty()) {
            const int signal = terminated ? SIGKILL : SIGTERM;
            for (const auto& [worker, rank] : rankOf) {
                std::cerr << "rllm " << command << ": worker " << rank << " (pid " << worker
                          << ") still runs after another failed; stopping it\n";
                kill(worker, signal);
            }
            terminated = true;
            deadline = Clock::now() + std::chrono::seconds(5);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return result;
}

}  // namespace rllm::cli
