fn main() -> std::process::ExitCode {
    cutover::main()
}
