// End-to-end: `mpirun -np 2 synth train` through the real binary on real recordings: trains, checkpoints, resumes on
// one rank and on two, ends with a clear error when a rank is killed, refuses ranks started differently.
// Skipped when mpirun is not installed (scripts/test.sh says so).
import Foundation
import NNCore
import XCTest

final class MPITrainCLITests: CLITestCase {
    /// A tiny voice on the fixture manifest (3 train files, 2 valid), a few steps. The learning rate stays in its
    /// warm-up (1e-3 x step), which does not depend on --steps, so that runs resumed with a higher --steps follow the
    /// same schedule as one run.
    func trainArgs(out: URL, steps: Int, extra: [String] = []) -> [String] {
        ["train", "--data", CLI.fixture("speech/MANIFEST.tsv").path, "--out", out.path, "--steps", "\(steps)",
         "--batch", "4", "--segment", "800", "--residual", "8", "--gate", "16", "--skip", "16", "--cond-channels", "8",
         "--stacks", "1", "--warmup", "100", "--lr", "0.1", "--log-every", "1", "--checkpoint-every", "2", "--validate-every", "4",
         "--valid-segments", "4"] + extra
    }

    func mpirunPath() throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        guard let m = path.map({ "\($0)/mpirun" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("mpirun not found: the 2-rank training tests are skipped (Debian: openmpi-bin)")
        }
        return m
    }

    /// Starts `mpirun ARGS` (the synth binary's path substituted for "SYNTH") under a 120 s `timeout`.
    func launchMPI(_ args: [String], tag: String) throws -> Process {
        let bin = try binary().path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["120", try mpirunPath(), "--oversubscribe"] + args.map { $0 == "SYNTH" ? bin : $0 }
        var e = ProcessInfo.processInfo.environment
        e["SYNTH_VOICES"] = nil
        e["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        e["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        e["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
        p.environment = e
        let logs = tmp.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: logs.appendingPathComponent("\(tag).out").path, contents: nil)
        FileManager.default.createFile(atPath: logs.appendingPathComponent("\(tag).err").path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: logs.appendingPathComponent("\(tag).out"))
        p.standardError = try FileHandle(forWritingTo: logs.appendingPathComponent("\(tag).err"))
        try p.run()
        return p
    }

    func runMPI(_ args: [String]) throws -> RunResult {
        let tag = "mpi-\(UUID().uuidString.prefix(8))"
        let p = try launchMPI(args, tag: tag)
        p.waitUntilExit()
        let (o, e) = output(tag)
        return RunResult(status: p.terminationStatus, stdout: o, stderr: e)
    }

    func weights(_ checkpoint: URL) throws -> [String: [Float]] {
        try SafeTensors.read(checkpoint.appendingPathComponent("model.safetensors")).tensors.mapValues(\.data)
    }

    /// 2 ranks for 4 steps, 1 rank to step 6, 2 ranks to step 8 == one process for 8 steps: the same RNG state and the
    /// same weights within 1e-4 (the ranks sum their parts in another order than one process, about 1e-7 relative in
    /// each gradient, which Adam's division by sqrt(v) can enlarge for parameters whose gradient is near zero).
    func testTwoRanksTrainCheckpointAndResumeOnAnyNumberOfRanks() throws {
        let run = tmp.appendingPathComponent("run"), straight = tmp.appendingPathComponent("straight")
        let a = try runMPI(["-np", "2", "SYNTH"] + trainArgs(out: run, steps: 4))
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stderr.contains("data-parallel: 2 ranks (MPI)"), a.stderr)
        XCTAssertTrue(a.stderr.contains("2 ranks: gradient allreduce"), a.stderr)
        // Rank 1 is silent: one copy of each line.
        XCTAssertEqual(a.stderr.components(separatedBy: "step 4/4").count - 1, 1, a.stderr)
        for f in ["best/model.safetensors", "checkpoints/step-00000004/COMPLETE", "train.log", "settings.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent(f).path), f)
        }
        let log = try String(contentsOf: run.appendingPathComponent("train.log"), encoding: .utf8)
        // One invocation, logged once (by rank 0).
        XCTAssertEqual(log.split(separator: "\n").filter { $0.hasPrefix("# ") }.count, 1, log)

        let b = try CLI.run(trainArgs(out: run, steps: 6, extra: ["--resume"]))
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(b.stderr.contains("resumed from \(run.path)/checkpoints/step-00000004 at step 4"), b.stderr)
        XCTAssertFalse(b.stderr.contains("data-parallel"), b.stderr)
        let c = try runMPI(["-np", "2", "SYNTH"] + trainArgs(out: run, steps: 8, extra: ["--resume"]))
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stderr.contains("at step 6"), c.stderr)

        let s = try CLI.run(trainArgs(out: straight, steps: 8))
        XCTAssertEqual(s.status, 0, s.stderr)
        let w1 = try weights(run.appendingPathComponent("checkpoints/step-00000008"))
        let w2 = try weights(straight.appendingPathComponent("checkpoints/step-00000008"))
        XCTAssertEqual(Set(w1.keys), Set(w2.keys))
        var worst: Float = 0
        for (k, v) in w1 { worst = max(worst, zip(v, w2[k]!).reduce(0) { max($0, abs($1.0 - $1.1)) }) }
        XCTAssertLessThan(worst, 1e-4)
        let state1 = try String(contentsOf: run.appendingPathComponent("checkpoints/step-00000008/trainer_state.json"), encoding: .utf8)
        let state2 = try String(contentsOf: straight.appendingPathComponent("checkpoints/step-00000008/trainer_state.json"), encoding: .utf8)
        func rng(_ s: String) -> Substring? { s.range(of: #""rng_state" : \[[^\]]*\]"#, options: .regularExpression).map { s[$0] } }
        XCTAssertNotNil(rng(state1))
        XCTAssertEqual(rng(state1), rng(state2))
        print("2 ranks (4) + 1 rank (2) + 2 ranks (2) vs 1 process (8 steps): max |weight difference| \(worst)")
    }

    /// A rank killed by SIGKILL mid-run ends the job (no hang) with an error naming the rank and the signal.
    func testKilledRankEndsTheJobWithAClearError() throws {
        let run = tmp.appendingPathComponent("killed")
        let p = try launchMPI(["-np", "2", "SYNTH"] + trainArgs(out: run, steps: 100_000), tag: "killed")
        // Wait for training to be under way (rank 0 logs every step).
        let log = run.appendingPathComponent("train.log")
        let start = Date()
        while Date().timeIntervalSince(start) < 90 {
            if let t = try? String(contentsOf: log, encoding: .utf8), t.contains("step 3/") { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let ranks = descendants(of: p.processIdentifier).filter { rankOf($0) == 1 }
        XCTAssertEqual(ranks.count, 1, "rank 1's process")
        guard let victim = ranks.first else { p.terminate(); return }
        let killedAt = Date()
        kill(victim, SIGKILL)
        p.waitUntilExit()
        let seconds = Date().timeIntervalSince(killedAt)
        let (_, err) = output("killed")
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertNotEqual(p.terminationStatus, 124, "timed out: the job hung")
        XCTAssertLessThan(seconds, 30)
        XCTAssertTrue(err.contains("rank 1") && err.contains("signal 9"), err)
        print("rank 1 killed: the job ended in \(String(format: "%.1f", seconds)) s with status \(p.terminationStatus)")
    }

    /// SIGUSR1 to mpirun (which forwards it to every rank) stops every rank at the same step; rank 0 checkpoints; exit 0.
    func testSIGUSR1ToMpirunStopsWithACheckpoint() throws {
        let run = tmp.appendingPathComponent("stopped")
        let p = try launchMPI(["-np", "2", "SYNTH"] + trainArgs(out: run, steps: 100_000), tag: "stopped")
        let log = run.appendingPathComponent("train.log")
        let start = Date()
        while Date().timeIntervalSince(start) < 90 {
            if let t = try? String(contentsOf: log, encoding: .utf8), t.contains("step 3/") { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let mpirun = descendants(of: p.processIdentifier).first { pid in
            ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").hasPrefix("mpirun")
                || ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").hasPrefix("orterun")
        }
        guard let mpirun else { p.terminate(); return XCTFail("mpirun's process not found") }
        kill(mpirun, SIGUSR1)
        p.waitUntilExit()
        let (_, err) = output("stopped")
        XCTAssertEqual(p.terminationStatus, 0, err)
        XCTAssertTrue(err.contains("stopped on signal; resume with --resume"), err)
        let state = try String(contentsOf: latestCheckpoint(run).appendingPathComponent("trainer_state.json"), encoding: .utf8)
        XCTAssertTrue(state.contains("\"step\" :"), state)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("best/model.safetensors").path))
    }

    /// The newest complete checkpoint folder of a run.
    func latestCheckpoint(_ run: URL) throws -> URL {
        let names = try FileManager.default.contentsOfDirectory(atPath: run.appendingPathComponent("checkpoints").path).sorted()
        return run.appendingPathComponent("checkpoints").appendingPathComponent(try XCTUnwrap(names.last))
    }

    /// Ranks started with different flags (here --lr) are refused at start-up, on rank 0, in one line.
    func testRanksStartedDifferentlyAreRefused() throws {
        let run = tmp.appendingPathComponent("mismatch")
        let r = try runMPI(["-np", "1", "SYNTH"] + trainArgs(out: run, steps: 2, extra: ["--lr", "1e-3"])
                           + [":", "-np", "1", "SYNTH"] + trainArgs(out: run, steps: 2, extra: ["--lr", "2e-3"]))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("rank 0 of 2: the ranks were started with different model configs, training flags, data or synth binaries"), r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: "were started with different").count - 1, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent("checkpoints").path))
    }

    /// Processes below `pid` (children, grandchildren...), from /proc.
    func descendants(of pid: Int32) -> [Int32] {
        var out: [Int32] = [], queue = [pid]
        while let p = queue.popLast() {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(p)/task")) ?? []
            for t in tasks {
                let text = (try? String(contentsOfFile: "/proc/\(p)/task/\(t)/children", encoding: .utf8)) ?? ""
                for c in text.split(separator: " ").compactMap({ Int32($0) }) { out.append(c); queue.append(c) }
            }
        }
        return out
    }

    /// The MPI rank of a process (OMPI_COMM_WORLD_RANK in its environment), nil if it has none.
    func rankOf(_ pid: Int32) -> Int? {
        guard let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        for entry in env.split(separator: 0) {
            let s = String(decoding: entry, as: UTF8.self)
            if s.hasPrefix("OMPI_COMM_WORLD_RANK=") { return Int(s.dropFirst("OMPI_COMM_WORLD_RANK=".count)) }
        }
        return nil
    }
}
