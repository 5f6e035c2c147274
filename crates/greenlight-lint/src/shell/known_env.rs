//! Variables that exist before a `run:` script starts, with their source.

/// Variables the GitHub Actions runner sets for every step, as listed in
/// GitHub's "Variables reference" (default environment variables).
/// `GITHUB_BASE_REF` and `GITHUB_HEAD_REF` are set to an empty string
/// outside pull request events, which is still set for `set -u`.
/// `RUNNER_DEBUG` is missing on purpose: the runner sets it only when debug
/// logging is enabled.
const RUNNER: &[&str] = &[
    "CI",
    "GITHUB_ACTION",
    "GITHUB_ACTIONS",
    "GITHUB_ACTOR",
    "GITHUB_ACTOR_ID",
    "GITHUB_API_URL",
    "GITHUB_BASE_REF",
    "GITHUB_ENV",
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
    "GITHUB_GRAPHQL_URL",
    "GITHUB_HEAD_REF",
    "GITHUB_JOB",
    "GITHUB_OUTPUT",
    "GITHUB_PATH",
    "GITHUB_REF",
    "GITHUB_REF_NAME",
    "GITHUB_REF_PROTECTED",
    "GITHUB_REF_TYPE",
    "GITHUB_REPOSITORY",
    "GITHUB_REPOSITORY_ID",
    "GITHUB_REPOSITORY_OWNER",
    "GITHUB_REPOSITORY_OWNER_ID",
    "GITHUB_RETENTION_DAYS",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_NUMBER",
    "GITHUB_SERVER_URL",
    "GITHUB_SHA",
    "GITHUB_STATE",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_TRIGGERING_ACTOR",
    "GITHUB_WORKFLOW",
    "GITHUB_WORKFLOW_REF",
    "GITHUB_WORKFLOW_SHA",
    "GITHUB_WORKSPACE",
    "RUNNER_ARCH",
    "RUNNER_ENVIRONMENT",
    "RUNNER_NAME",
    "RUNNER_OS",
    "RUNNER_TEMP",
    "RUNNER_TOOL_CACHE",
    // The runner starts steps as a login user's process, so these come
    // from the operating system on every runner.
    "HOME",
    "PATH",
];

/// Variables bash sets itself, even in an empty environment (bash 5.2:
/// `env -i bash -c 'compgen -v'`), plus those it sets while running
/// (`PIPESTATUS`, `FUNCNAME`, `REPLY` after `read`, `BASH_REMATCH`).
const BASH: &[&str] = &[
    "BASH",
    "BASHOPTS",
    "BASHPID",
    "BASH_ALIASES",
    "BASH_ARGC",
    "BASH_ARGV",
    "BASH_ARGV0",
    "BASH_CMDS",
    "BASH_COMMAND",
    "BASH_EXECUTION_STRING",
    "BASH_LINENO",
    "BASH_LOADABLES_PATH",
    "BASH_REMATCH",
    "BASH_SOURCE",
    "BASH_SUBSHELL",
    "BASH_VERSINFO",
    "BASH_VERSION",
    "COMP_WORDBREAKS",
    "DIRSTACK",
    "EPOCHREALTIME",
    "EPOCHSECONDS",
    "EUID",
    "FUNCNAME",
    "GROUPS",
    "HISTCMD",
    "HOSTNAME",
    "HOSTTYPE",
    "IFS",
    "LINENO",
    "MACHTYPE",
    "OPTERR",
    "OPTIND",
    "OSTYPE",
    "PIPESTATUS",
    "PPID",
    "PS4",
    "PWD",
    "RANDOM",
    "SECONDS",
    "SHELL",
    "SHELLOPTS",
    "SHLVL",
    "SRANDOM",
    "TERM",
    "UID",
];

/// Variables of GitHub-hosted runner images (Ubuntu, macOS), set by the
/// image rather than the runner, so self-hosted runners may lack them.
const HOSTED_IMAGE: &[&str] = &[
    "USER",
    "LANG",
    "ImageOS",
    "ImageVersion",
    "AGENT_TOOLSDIRECTORY",
    "JAVA_HOME",
    "ANDROID_HOME",
    "ANDROID_SDK_ROOT",
    "ANDROID_NDK",
    "ANDROID_NDK_HOME",
    "ANDROID_NDK_ROOT",
    "ANDROID_NDK_LATEST_HOME",
    "CONDA",
    "VCPKG_INSTALLATION_ROOT",
    "PIPX_HOME",
    "PIPX_BIN_DIR",
    "XDG_CONFIG_HOME",
    "XDG_RUNTIME_DIR",
    "DEBIAN_FRONTEND",
    "DOTNET_ROOT",
    "NVM_DIR",
    "CHROMEWEBDRIVER",
    "GECKOWEBDRIVER",
    "EDGEWEBDRIVER",
    "SELENIUM_JAR_PATH",
    "SWIFT_PATH",
    "GRADLE_HOME",
    "ANT_HOME",
    "LEIN_HOME",
    "HOMEBREW_PREFIX",
    "HOMEBREW_CELLAR",
    "HOMEBREW_REPOSITORY",
];

/// Returns where a variable that exists at the start of every `run:` step
/// comes from, or `None` when nothing guarantees it.
pub fn predefined(name: &str, hosted: bool) -> Option<&'static str> {
    if RUNNER.contains(&name) {
        return Some("runner");
    }
    if BASH.contains(&name) {
        return Some("bash");
    }
    if hosted
        && (HOSTED_IMAGE.contains(&name)
            || name.starts_with("JAVA_HOME_")
            || name.starts_with("GOROOT_"))
    {
        return Some("runner image");
    }
    None
}

/// Returns why a variable that looks predefined is not, for messages.
pub fn not_predefined_reason(name: &str) -> Option<&'static str> {
    match name {
        "RUNNER_DEBUG" => Some("the runner sets RUNNER_DEBUG only when debug logging is enabled"),
        "GITHUB_TOKEN" => {
            Some("GITHUB_TOKEN is a secret, not an environment variable, unless env: maps it")
        }
        "ACTIONS_STEP_DEBUG" | "ACTIONS_RUNNER_DEBUG" => {
            Some("debug settings are secrets or variables, not environment variables")
        }
        _ => None,
    }
}

/// Environment variables that well-known actions export for later steps
/// of the same job, by the action's `owner/name`.
pub fn exported_by_action(uses: &str) -> &'static [&'static str] {
    let action = uses.split('@').next().unwrap_or("").to_ascii_lowercase();
    match action.as_str() {
        "aws-actions/configure-aws-credentials" => &[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        ],
        "google-github-actions/auth" => &[
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_GHA_CREDS_PATH",
            "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
            "CLOUDSDK_CORE_PROJECT",
            "CLOUDSDK_PROJECT",
            "GCLOUD_PROJECT",
            "GCP_PROJECT",
            "GOOGLE_CLOUD_PROJECT",
        ],
        "actions/setup-java" => &["JAVA_HOME"],
        "actions/setup-python" => &[
            "pythonLocation",
            "Python_ROOT_DIR",
            "Python2_ROOT_DIR",
            "Python3_ROOT_DIR",
            "PKG_CONFIG_PATH",
        ],
        "actions/setup-dotnet" => &["DOTNET_ROOT"],
        "azure/login" => &["AZURE_HTTP_USER_AGENT", "AZUREPS_HOST_ENVIRONMENT"],
        "nrwl/nx-set-shas" => &["NX_BASE", "NX_HEAD"],
        "pnpm/action-setup" => &["PNPM_HOME"],
        _ => &[],
    }
}

/// Returns the name prefix of the variables an action exports, for actions
/// that export a family of names (`docker/metadata-action` sets
/// `DOCKER_METADATA_OUTPUT_TAGS`, `…_LABELS` and more).
pub fn exported_prefix_by_action(uses: &str) -> Option<&'static str> {
    let action = uses.split('@').next().unwrap_or("").to_ascii_lowercase();
    match action.as_str() {
        "docker/metadata-action" => Some("DOCKER_METADATA_OUTPUT_"),
        _ => None,
    }
}

/// Checks whether an action may set any variable for later steps. That
/// covers actions that export secrets or a dotenv file under names from
/// their input, actions that export slugs, and local actions
/// (`uses: ./path`), whose code this linter does not read. Other
/// third-party actions are assumed to export nothing beyond
/// [`exported_by_action`].
pub fn action_exports_unknown(uses: &str) -> bool {
    let action = uses.split('@').next().unwrap_or("").to_ascii_lowercase();
    action.starts_with("./")
        || matches!(
            action.as_str(),
            "aws-actions/aws-secretsmanager-get-secrets"
                | "hashicorp/vault-action"
                | "1password/load-secrets-action"
        )
        || action.contains("dotenv")
        || action.contains("env-vars")
        || action.contains("slug")
}
