//! Typed views of workflows and composite actions over positioned YAML.
//!
//! Only the parts the rules read are modeled; every field keeps its YAML
//! node, so a rule can point at the exact key or value.

use crate::yaml::{Node, Scalar};

/// An `env:` mapping: literal names with their values, or one expression
/// (`env: ${{ fromJSON(...) }}`) whose names cannot be known statically.
#[derive(Debug, Clone, Default)]
pub struct EnvMap {
    pub entries: Vec<(Scalar, Node)>,
    /// Set when `env:` is an expression, so any name may be defined.
    pub dynamic: bool,
}

impl EnvMap {
    pub fn from_node(node: Option<&Node>) -> Self {
        match node {
            Some(Node::Mapping(entries, _)) => EnvMap {
                entries: entries.clone(),
                dynamic: false,
            },
            Some(Node::Scalar(s)) if s.value.contains("${{") => EnvMap {
                entries: Vec::new(),
                dynamic: true,
            },
            _ => EnvMap::default(),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.value == name)
    }

    /// Returns the literal value of `name`, when it is a scalar.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == name)
            .and_then(|(_, v)| v.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.value.as_str())
    }
}

/// One step of a job or of a composite action.
#[derive(Debug, Clone)]
pub struct Step {
    /// 0-based position in its job.
    pub index: usize,
    pub id: Option<String>,
    pub name: Option<Scalar>,
    pub uses: Option<Scalar>,
    pub run: Option<Scalar>,
    pub shell: Option<Scalar>,
    pub env: EnvMap,
    /// `with:` inputs of an action step.
    pub with: Vec<(Scalar, Node)>,
}

impl Step {
    fn from_node(index: usize, node: &Node) -> Self {
        Step {
            index,
            id: node.get("id").and_then(Node::as_str).map(str::to_string),
            name: node.get("name").and_then(Node::as_scalar).cloned(),
            uses: node.get("uses").and_then(Node::as_scalar).cloned(),
            run: node.get("run").and_then(Node::as_scalar).cloned(),
            shell: node.get("shell").and_then(Node::as_scalar).cloned(),
            env: EnvMap::from_node(node.get("env")),
            with: node
                .get("with")
                .map(|w| w.entries().to_vec())
                .unwrap_or_default(),
        }
    }

    /// Returns a label for messages: the name, the id, or `#N` (1-based).
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return format!("\"{}\"", name.value);
        }
        if let Some(id) = &self.id {
            return format!("\"{id}\"");
        }
        if let Some(uses) = &self.uses {
            return format!("#{} ({})", self.index + 1, uses.value);
        }
        format!("#{}", self.index + 1)
    }

    /// Returns the `with:` value of `key`, when it is a scalar.
    pub fn with_value(&self, key: &str) -> Option<&Scalar> {
        self.with
            .iter()
            .find(|(k, _)| k.value == key)
            .and_then(|(_, v)| v.as_scalar())
    }
}

/// The `strategy.matrix` of a job: each key with its literal values.
/// `include:` entries add their values to the keys they name.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    pub axes: Vec<(String, Vec<Scalar>)>,
    /// The `matrix:` node itself, for pointing at it.
    pub node: Option<Node>,
}

impl Matrix {
    fn from_node(node: Option<&Node>) -> Self {
        let Some(node) = node else {
            return Matrix::default();
        };
        let mut axes: Vec<(String, Vec<Scalar>)> = Vec::new();
        let mut add = |key: &str, value: &Scalar| match axes.iter_mut().find(|(k, _)| k == key) {
            Some((_, values)) => values.push(value.clone()),
            None => axes.push((key.to_string(), vec![value.clone()])),
        };
        for (key, value) in node.entries() {
            match key.value.as_str() {
                "include" => {
                    for item in value.items() {
                        for (k, v) in item.entries() {
                            if let Some(s) = v.as_scalar() {
                                add(&k.value, s);
                            }
                        }
                    }
                }
                "exclude" => {}
                _ => {
                    for s in value.scalars() {
                        add(&key.value, s);
                    }
                }
            }
        }
        Matrix {
            axes,
            node: Some(node.clone()),
        }
    }

    pub fn values(&self, key: &str) -> &[Scalar] {
        self.axes
            .iter()
            .find(|(k, _)| k == key)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

/// One job of a workflow.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: Scalar,
    pub name: Option<Scalar>,
    /// `runs-on` labels as written (expressions included).
    pub runs_on: Vec<String>,
    /// `environment:` as a name or a mapping with `name:`.
    pub environment: Option<Node>,
    pub env: EnvMap,
    /// `container.env`, set inside the job's container.
    pub container_env: EnvMap,
    /// Whether the job runs its steps in a container image.
    pub has_container: bool,
    pub default_shell: Option<Scalar>,
    pub matrix: Matrix,
    pub steps: Vec<Step>,
    /// `uses:` of a job that calls a reusable workflow.
    pub uses: Option<Scalar>,
    pub node: Node,
}

impl Job {
    fn from_node(id: &Scalar, node: &Node) -> Self {
        let runs_on = match node.get("runs-on") {
            Some(Node::Mapping(..)) => node
                .get("runs-on")
                .and_then(|n| n.get("labels"))
                .map(|n| n.scalars().iter().map(|s| s.value.clone()).collect())
                .unwrap_or_default(),
            Some(other) => other.scalars().iter().map(|s| s.value.clone()).collect(),
            None => Vec::new(),
        };
        let container = node.get("container");
        Job {
            id: id.clone(),
            name: node.get("name").and_then(Node::as_scalar).cloned(),
            runs_on,
            environment: node.get("environment").cloned(),
            env: EnvMap::from_node(node.get("env")),
            container_env: EnvMap::from_node(container.and_then(|c| c.get("env"))),
            has_container: container.is_some(),
            default_shell: default_shell(node),
            matrix: Matrix::from_node(node.get("strategy").and_then(|s| s.get("matrix"))),
            steps: node
                .get("steps")
                .map(|s| {
                    s.items()
                        .iter()
                        .enumerate()
                        .map(|(i, n)| Step::from_node(i, n))
                        .collect()
                })
                .unwrap_or_default(),
            uses: node.get("uses").and_then(Node::as_scalar).cloned(),
            node: node.clone(),
        }
    }

    /// Returns the `environment:` name, when it is written literally.
    pub fn environment_name(&self) -> Option<&Scalar> {
        match &self.environment {
            Some(Node::Scalar(s)) => Some(s),
            Some(node @ Node::Mapping(..)) => node.get("name").and_then(Node::as_scalar),
            _ => None,
        }
    }

    /// Checks whether any `runs-on` label names a macOS runner image.
    pub fn runs_on_macos(&self) -> bool {
        self.runs_on.iter().any(|l| l.starts_with("macos"))
    }

    /// Checks whether every `runs-on` label names a Windows runner, whose default
    /// shell is PowerShell.
    pub fn runs_on_windows(&self) -> bool {
        !self.runs_on.is_empty() && self.runs_on.iter().all(|l| l.starts_with("windows"))
    }
}

/// A parsed workflow file.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub env: EnvMap,
    pub default_shell: Option<Scalar>,
    pub jobs: Vec<Job>,
    pub root: Node,
}

impl Workflow {
    /// Reads a workflow from its root node, or returns `None` when the
    /// node has no `jobs:` mapping.
    pub fn from_node(root: &Node) -> Option<Self> {
        let jobs = root.get("jobs")?;
        Some(Workflow {
            env: EnvMap::from_node(root.get("env")),
            default_shell: default_shell(root),
            jobs: jobs
                .entries()
                .iter()
                .map(|(k, v)| Job::from_node(k, v))
                .collect(),
            root: root.clone(),
        })
    }
}

/// A composite action (`action.yml` with `runs.using: composite`).
#[derive(Debug, Clone)]
pub struct CompositeAction {
    pub inputs: Vec<String>,
    pub steps: Vec<Step>,
    pub root: Node,
}

impl CompositeAction {
    /// Reads a composite action, or returns `None` for other action kinds.
    pub fn from_node(root: &Node) -> Option<Self> {
        let runs = root.get("runs")?;
        if runs.get("using").and_then(Node::as_str) != Some("composite") {
            return None;
        }
        Some(CompositeAction {
            inputs: root
                .get("inputs")
                .map(|i| i.entries().iter().map(|(k, _)| k.value.clone()).collect())
                .unwrap_or_default(),
            steps: runs
                .get("steps")
                .map(|s| {
                    s.items()
                        .iter()
                        .enumerate()
                        .map(|(i, n)| Step::from_node(i, n))
                        .collect()
                })
                .unwrap_or_default(),
            root: root.clone(),
        })
    }
}

fn default_shell(node: &Node) -> Option<Scalar> {
    node.get("defaults")
        .and_then(|d| d.get("run"))
        .and_then(|r| r.get("shell"))
        .and_then(Node::as_scalar)
        .cloned()
}
