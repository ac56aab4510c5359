//! A model-based property test of the planner, driven through the real engine and state store:
//! random small tenants and plans, random OAuth sync outcomes that change between runs, and
//! runs killed at any platform call — the process gone before the call, or after it took effect
//! but before its outcome was journaled, or the answer lost — checked against a reference
//! model of three rules:
//!
//! 1. no user is ever left with neither configuration enabled;
//! 2. no step starts before its predecessor's gate passed — and a gate passes only once every
//!    member has a clean OAuth sync made after their switch, at least `soak` after it, but for
//!    the exceptions it names, no more than `max_errors` of them;
//! 3. no move is repeated: a user's `to` is enabled (with effect) once, plus once per rollback
//!    of their step.
//!
//! The platform is an in-memory [`Target`]: no files, no sockets, so a few hundred runs take a
//! few seconds.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use tokio::sync::watch;

use super::{Engine, Event, EventSink, RunOutcome, Settings};
use crate::clock::Clock;
use crate::plan::grammar::Email;
use crate::state::Store;
use crate::target::{
    AuthType, Authorization, Configuration, ConfigurationList, ConfigurationState, Identity,
    NewConfiguration, PlatformUser, SyncOutcome, SyncResult, Target, TargetError, UserPage,
    UserWrite, WriteResult,
};

const FROM: &str = "1";
const TO: &str = "2";

/// One write the platform received.
#[derive(Debug, Clone)]
struct Write {
    at: Timestamp,
    user: Email,
    configuration: String,
    enabled: bool,
    changed: bool,
}

/// What happens at the `n`th write call from now.
#[derive(Debug, Clone, Copy)]
struct Kill {
    call: usize,
    how: KillKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillKind {
    /// The process dies before the call reaches the platform.
    Before,
    /// The call takes effect and the process dies before it hears back (an in-doubt intent).
    After,
    /// The call takes effect and its answer is lost (the platform seems unreachable).
    Lost,
}

struct World {
    configurations: Vec<Configuration>,
    users: Vec<PlatformUser>,
    /// Whose OAuth syncs fail (their mailbox is outside the access policy).
    oauth_failing: BTreeSet<Email>,
    writes: Vec<Write>,
    kill: Option<Kill>,
    /// The first write that left a user on neither configuration.
    neither: Option<String>,
    /// Users the platform refuses to write, with its reason.
    refused: BTreeMap<Email, String>,
    /// The clock of the run under way.
    clock: Clock,
}

impl World {
    fn new(users: usize) -> Self {
        let configuration = |id: &str, name: &str, auth_type| Configuration {
            id: id.to_owned(),
            display_name: name.to_owned(),
            auth_type,
            state: ConfigurationState::Connected,
            tenant_id: (auth_type == AuthType::Oauth).then(|| "t.example".to_owned()),
            exchange_version: None,
            service_address: None,
            authorized_account: None,
            error: None,
        };
        Self {
            configurations: vec![
                configuration(FROM, "Basic Auth", AuthType::Basic),
                configuration(TO, "OAuth", AuthType::Oauth),
            ],
            users: (0..users)
                .map(|i| PlatformUser {
                    email: email(i),
                    location: "East".into(),
                    groups: Vec::new().into(),
                    enabled: vec![FROM.into()],
                    sync: crate::target::SyncResults::new(),
                })
                .collect(),
            oauth_failing: BTreeSet::new(),
            writes: Vec::new(),
            kill: None,
            neither: None,
            refused: BTreeMap::new(),
            clock: Clock::shifted(SignedDuration::ZERO),
        }
    }

    /// Every enabled user makes one sync attempt per configuration, at `at`.
    fn sync(&mut self, at: Timestamp) {
        for user in &mut self.users {
            for configuration in user.enabled.clone() {
                let failing = configuration == TO && self.oauth_failing.contains(&user.email);
                let result = SyncResult {
                    at,
                    outcome: if failing {
                        SyncOutcome::Error
                    } else {
                        SyncOutcome::Ok
                    },
                    error: failing.then(|| "Access is denied.".to_owned()),
                    code: failing.then(|| "ErrorAccessDenied".to_owned()),
                };
                user.sync.insert(configuration, result);
            }
        }
    }

    /// Counts down to a kill; its kind when this call is the one.
    fn killed_now(&mut self) -> Option<KillKind> {
        let kill = self.kill.as_mut()?;
        if kill.call > 0 {
            kill.call -= 1;
            return None;
        }
        let how = kill.how;
        self.kill = None;
        Some(how)
    }
}

struct ModelTarget {
    world: RefCell<World>,
    /// Told when the process "dies": the run's future is then dropped where it stands.
    died: tokio::sync::Notify,
}

impl ModelTarget {
    /// Ends the call as `how` says: the run dies here, or hears that the platform is gone.
    async fn kill(&self, how: KillKind) -> TargetError {
        if how == KillKind::Lost {
            return TargetError::Unreachable("the answer was lost".to_owned());
        }
        self.died.notify_one();
        std::future::pending::<()>().await;
        TargetError::Other("a dead process answers nothing".to_owned())
    }
}

impl Target for ModelTarget {
    async fn whoami(&self) -> Result<Identity, TargetError> {
        Ok(Identity {
            account: "model".to_owned(),
            role: "admin".to_owned(),
            max_bulk_users: None,
        })
    }

    async fn configurations(&self) -> Result<ConfigurationList, TargetError> {
        Ok(ConfigurationList {
            configurations: self.world.borrow().configurations.clone(),
            free_slots: 0,
        })
    }

    async fn create_configuration(
        &self,
        _new: &NewConfiguration,
    ) -> Result<Configuration, TargetError> {
        Err(TargetError::Other(
            "the model tenant already has its OAuth configuration".to_owned(),
        ))
    }

    async fn authorization(
        &self,
        _configuration: &str,
        _restart: bool,
    ) -> Result<Authorization, TargetError> {
        Err(TargetError::Other(
            "the model tenant is authorized".to_owned(),
        ))
    }

    async fn users(&self, after: Option<&str>, limit: usize) -> Result<UserPage, TargetError> {
        let world = self.world.borrow();
        let users: Vec<PlatformUser> = world
            .users
            .iter()
            .filter(|u| after.is_none_or(|a| u.email.to_string().as_str() > a))
            .take(limit)
            .cloned()
            .collect();
        Ok(UserPage {
            more: users.len() == limit,
            users,
            cursors: None,
        })
    }

    async fn users_by_email(&self, emails: &[Email]) -> Result<Vec<PlatformUser>, TargetError> {
        let world = self.world.borrow();
        Ok(world
            .users
            .iter()
            .filter(|u| emails.contains(&u.email))
            .cloned()
            .collect())
    }

    async fn set_enabled(
        &self,
        configuration: &str,
        users: &[Email],
        enabled: bool,
    ) -> Result<Vec<UserWrite>, TargetError> {
        let kill = self.world.borrow_mut().killed_now();
        if kill == Some(KillKind::Before) {
            return Err(self.kill(KillKind::Before).await);
        }
        let results = self.write(configuration, users, enabled);
        match kill {
            Some(how) => Err(self.kill(how).await),
            None => Ok(results),
        }
    }

    async fn recheck(&self, _configuration: &str, _users: &[Email]) -> Result<(), TargetError> {
        Ok(())
    }

    async fn disconnect(&self, configuration: &str) -> Result<(), TargetError> {
        let kill = self.world.borrow_mut().killed_now();
        if kill == Some(KillKind::Before) {
            return Err(self.kill(KillKind::Before).await);
        }
        if let Some(c) = self
            .world
            .borrow_mut()
            .configurations
            .iter_mut()
            .find(|c| c.id == configuration)
        {
            c.state = ConfigurationState::Disconnected;
        }
        match kill {
            Some(how) => Err(self.kill(how).await),
            None => Ok(()),
        }
    }
}

impl ModelTarget {
    /// Applies a bulk write, recording it and any user it leaves on neither configuration.
    fn write(&self, configuration: &str, users: &[Email], enabled: bool) -> Vec<UserWrite> {
        let mut world = self.world.borrow_mut();
        let world = &mut *world;
        let mut results = Vec::new();
        for email in users {
            if let Some(reason) = world.refused.get(email) {
                results.push(UserWrite {
                    email: email.clone(),
                    result: WriteResult::Failed(reason.clone()),
                });
                continue;
            }
            let Some(user) = world.users.iter_mut().find(|u| u.email == *email) else {
                results.push(UserWrite {
                    email: email.clone(),
                    result: WriteResult::NotFound,
                });
                continue;
            };
            let on = user.is_enabled_on(configuration);
            let changed = on != enabled;
            if changed && enabled {
                user.enabled.push(configuration.into());
            } else if changed {
                user.enabled.retain(|c| c != configuration);
                user.sync.remove(configuration);
            }
            let at = world.clock.now();
            world.writes.push(Write {
                at,
                user: email.clone(),
                configuration: configuration.to_owned(),
                enabled,
                changed,
            });
            results.push(UserWrite {
                email: email.clone(),
                result: if changed {
                    WriteResult::Changed
                } else {
                    WriteResult::Unchanged
                },
            });
        }
        for user in &world.users {
            if user.enabled.is_empty() {
                world.neither.get_or_insert_with(|| {
                    format!("{} was left on neither configuration", user.email)
                });
            }
        }
        results
    }
}

fn email(i: usize) -> Email {
    Email::parse(&format!("u{i:02}@x.io")).expect("a model email")
}

/// The reference model: what it has seen, and the first rule broken.
#[derive(Default)]
struct Model {
    /// Steps in plan order, with their members.
    order: Vec<(String, Vec<Email>)>,
    soak: SignedDuration,
    max_errors: u64,
    passed: BTreeSet<String>,
    started: BTreeSet<String>,
    rollbacks: BTreeMap<Email, usize>,
    violation: Option<String>,
}

impl Model {
    fn fail(&mut self, why: String) {
        self.violation.get_or_insert(why);
    }

    fn members(&self, step: &str) -> Vec<Email> {
        self.order
            .iter()
            .find(|(id, _)| id == step)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// Watches the engine's events and checks each against the model and the platform.
struct Observer<'a> {
    model: &'a RefCell<Model>,
    world: &'a RefCell<World>,
    clock: Clock,
}

impl EventSink for Observer<'_> {
    fn event(&mut self, event: &Event) {
        let mut model = self.model.borrow_mut();
        let world = self.world.borrow();
        match event {
            Event::StepStarted { step, .. } => {
                let position = model.order.iter().position(|(id, _)| id == step);
                if let Some(previous) = position.and_then(|p| p.checked_sub(1)) {
                    let previous = model.order[previous].0.clone();
                    if !model.passed.contains(&previous) {
                        model.fail(format!("{step} started before {previous}'s gate passed"));
                    }
                }
                model.started.insert(step.clone());
            }
            Event::GatePassed { step, exceptions } => {
                let now = self.clock.now();
                let max_errors = model.max_errors;
                if exceptions.len() as u64 > max_errors {
                    model.fail(format!(
                        "{step}'s gate passed with {} exceptions, more than max_errors {max_errors}",
                        exceptions.len(),
                    ));
                }
                for member in model.members(step) {
                    if exceptions.iter().any(|e| e.email == member) {
                        continue;
                    }
                    let Some(user) = world.users.iter().find(|u| u.email == member) else {
                        continue;
                    };
                    let switched = world
                        .writes
                        .iter()
                        .rfind(|w| {
                            w.changed && w.enabled && w.configuration == TO && w.user == member
                        })
                        .map(|w| w.at);
                    let clean = user.sync.get(TO).is_some_and(|s| {
                        s.outcome == SyncOutcome::Ok && switched.is_none_or(|t| s.at > t)
                    });
                    if !clean {
                        model.fail(format!(
                            "{step}'s gate passed without a clean OAuth sync by {member} after their switch"
                        ));
                    }
                    if switched.is_some_and(|t| now < t + model.soak) {
                        model.fail(format!("{step}'s gate passed before its soak"));
                    }
                }
                model.passed.insert(step.clone());
            }
            Event::GateFailed {
                step, on_failure, ..
            } if on_failure == "rollback" => {
                for member in model.members(step) {
                    *model.rollbacks.entry(member).or_default() += 1;
                }
                model.passed.remove(step);
            }
            _ => {}
        }
    }
}

/// After every run: rules 1 and 3 against the platform's own record.
fn check_platform(model: &mut Model, world: &World) {
    if let Some(neither) = &world.neither {
        model.fail(neither.clone());
    }
    let mut enabled_to: BTreeMap<&Email, usize> = BTreeMap::new();
    for write in world.writes.iter().filter(|w| w.changed) {
        if write.configuration == TO && write.enabled {
            *enabled_to.entry(&write.user).or_default() += 1;
        }
    }
    for (user, count) in enabled_to {
        let allowed = 1 + model.rollbacks.get(user).copied().unwrap_or(0);
        if count > allowed {
            model.fail(format!(
                "{user}'s OAuth was enabled {count} times with {} rollback(s)",
                allowed - 1
            ));
        }
    }
}

/// One run of a case: a kill (at which call, and how), whether a person fixes the failing
/// users (and approves a rolled-back step) after it, and the minutes until the next run.
type Run = (Option<(usize, KillKind)>, bool, i64);

/// A random tenant, plan and history.
#[derive(Debug, Clone)]
struct Case {
    users: usize,
    /// The pilot's size, then each batch's.
    steps: Vec<usize>,
    rollback: bool,
    soak_minutes: i64,
    max_errors: u64,
    /// Users whose OAuth fails from the start.
    failing: Vec<usize>,
    /// Per run: a kill (at which call, and how), a fix of the failing users, and how many
    /// minutes pass before the next.
    runs: Vec<Run>,
}

fn case() -> impl Strategy<Value = Case> {
    (3usize..9)
        .prop_flat_map(|users| {
            (
                Just(users),
                proptest::collection::vec(1usize..4, 1..4),
                any::<bool>(),
                prop_oneof![Just(0i64), Just(5)],
                0u64..2,
                proptest::collection::vec(0..users, 0..3),
                proptest::collection::vec(
                    (
                        proptest::option::weighted(
                            0.3,
                            (
                                0usize..6,
                                prop_oneof![
                                    Just(KillKind::Before),
                                    Just(KillKind::After),
                                    Just(KillKind::Lost)
                                ],
                            ),
                        ),
                        proptest::bool::weighted(0.3),
                        1i64..20,
                    ),
                    30..60,
                ),
            )
        })
        .prop_map(
            |(users, steps, rollback, soak_minutes, max_errors, failing, runs)| Case {
                users,
                steps,
                rollback,
                soak_minutes,
                max_errors,
                failing,
                runs,
            },
        )
}

/// The plan for a case: a pilot and batches listing the users in order, the rest in a last
/// `remaining` batch.
fn plan_text(case: &Case) -> (String, Vec<(String, Vec<Email>)>) {
    let mut next = 0;
    let mut order = Vec::new();
    let mut text = format!(
        "version = 1\nname = \"model\"\n[target]\nkind = \"sandbox\"\nsandbox = \"demo\"\n\
         [from]\ndisplay_name = \"Basic Auth\"\n[to]\ndisplay_name = \"OAuth\"\ntenant_id = \"t.example\"\n\
         [gate]\nsoak = \"{}m\"\ntimeout = \"1h\"\nmax_errors = {}\non_failure = \"{}\"\n",
        case.soak_minutes,
        case.max_errors,
        if case.rollback { "rollback" } else { "halt" }
    );
    for (i, size) in case.steps.iter().enumerate() {
        let members: Vec<Email> = (next..(next + size).min(case.users)).map(email).collect();
        next += size;
        if members.is_empty() {
            break;
        }
        let list: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
        let name = if i == 0 {
            text.push_str("[pilot]\n");
            "pilot".to_owned()
        } else {
            let name = format!("b{i}");
            text.push_str(&format!("[[batch]]\nname = \"{name}\"\n"));
            name
        };
        text.push_str(&format!("users = [{}]\n", list.join(", ")));
        order.push((name, members));
    }
    let rest: Vec<Email> = (next.min(case.users)..case.users).map(email).collect();
    text.push_str("[[batch]]\nname = \"rest\"\nusers = \"remaining\"\n");
    order.push(("rest".to_owned(), rest));
    text.push_str("[disconnect]\napproval = false\n");
    (text, order)
}

/// The first rule a case broke, or why it could not run.
#[derive(Debug)]
struct Broken(String);

/// Runs one case to its end, returning the first rule broken.
fn run_case(case: &Case) -> Result<(), Broken> {
    let (text, order) = plan_text(case);
    let plan = crate::plan::load_text(Path::new("model/plan.toml"), &text)
        .map_err(|e| Broken(format!("the model plan is invalid: {e:?}")))?
        .plan;
    // State files in memory-backed storage where there is one: the store syncs every commit.
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .map_err(|e| Broken(e.to_string()))?;
    let mut store = Store::open_or_create(&dir.path().join("model.state.db"), "model")
        .map_err(|e| Broken(e.to_string()))?;
    let target = ModelTarget {
        world: RefCell::new(World::new(case.users)),
        died: tokio::sync::Notify::new(),
    };
    target.world.borrow_mut().oauth_failing = case.failing.iter().copied().map(email).collect();
    let model = RefCell::new(Model {
        order,
        soak: SignedDuration::from_mins(case.soak_minutes),
        max_errors: case.max_errors,
        ..Model::default()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Broken(e.to_string()))?;
    let mut shift = SignedDuration::ZERO;
    for (kill, fix, minutes) in &case.runs {
        let clock = Clock::shifted(shift);
        target.world.borrow_mut().clock = clock;
        target.world.borrow_mut().kill = kill.map(|(call, how)| Kill { call, how });
        let mut observer = Observer {
            model: &model,
            world: &target.world,
            clock,
        };
        let outcome = runtime.block_on(async {
            let (_stop_tx, stop) = watch::channel(None);
            let settings = Settings {
                until_blocked: true,
                poll: std::time::Duration::from_millis(1),
                approved: None,
                operator: "model".to_owned(),
                reauthorize: false,
                yes: false,
            };
            let mut engine = Engine::new(
                &plan,
                &target,
                "the model tenant".to_owned(),
                &mut store,
                clock,
                &mut observer,
                settings,
                stop,
                None,
            );
            tokio::select! {
                outcome = engine.run() => Some(outcome),
                () = target.died.notified() => None,
            }
        });
        check_platform(&mut model.borrow_mut(), &target.world.borrow());
        if let Some(violation) = model.borrow_mut().violation.take() {
            return Err(Broken(violation));
        }
        match outcome {
            Some(Ok(RunOutcome::Done)) => return Ok(()),
            // A person approves a rolled-back step again once its users are fixed.
            Some(Ok(
                RunOutcome::Halted { step, .. }
                | RunOutcome::Waiting {
                    reason: crate::planner::WaitReason::Approval,
                    step,
                    ..
                },
            )) if *fix => {
                let state = store.load().map_err(|e| Broken(e.to_string()))?;
                let batch = step.split('#').next().unwrap_or(&step).to_owned();
                let digest = crate::planner::step_digest(&plan, &batch, &state);
                store
                    .approve(&crate::state::NewApproval {
                        step: &step,
                        by: "model",
                        os_user: "model",
                        host: "model",
                        at: clock.now(),
                        digest: &digest,
                        signed: None,
                    })
                    .map_err(|e| Broken(e.to_string()))?;
            }
            // Died, killed, halted, waiting for time: the next run resumes.
            _ => {}
        }
        if *fix {
            target.world.borrow_mut().oauth_failing.clear();
        }
        shift += SignedDuration::from_mins(*minutes);
        target.world.borrow_mut().sync(Clock::shifted(shift).now());
    }
    Ok(())
}

#[test]
fn a_write_the_platform_refuses_halts_with_the_record_every_halt_has() {
    let case = Case {
        users: 3,
        steps: vec![3],
        rollback: false,
        soak_minutes: 0,
        max_errors: 0,
        failing: Vec::new(),
        runs: Vec::new(),
    };
    let (text, _) = plan_text(&case);
    let plan = crate::plan::load_text(Path::new("model/plan.toml"), &text)
        .expect("the plan validates")
        .plan;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut store =
        Store::open_or_create(&dir.path().join("model.state.db"), "model").expect("a store");
    let target = ModelTarget {
        world: RefCell::new(World::new(3)),
        died: tokio::sync::Notify::new(),
    };
    target
        .world
        .borrow_mut()
        .refused
        .insert(email(1), "the mailbox is on litigation hold".to_owned());
    let model = RefCell::new(Model::default());
    let clock = Clock::shifted(SignedDuration::ZERO);
    let mut observer = Observer {
        model: &model,
        world: &target.world,
        clock,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let outcome = runtime.block_on(async {
        let (_stop_tx, stop) = watch::channel(None);
        let settings = Settings {
            until_blocked: true,
            poll: std::time::Duration::from_millis(1),
            approved: None,
            operator: "model".to_owned(),
            reauthorize: false,
            yes: false,
        };
        Engine::new(
            &plan,
            &target,
            "the model tenant".to_owned(),
            &mut store,
            clock,
            &mut observer,
            settings,
            stop,
            None,
        )
        .run()
        .await
    });
    let Ok(RunOutcome::Halted {
        step,
        reason,
        failures,
    }) = outcome
    else {
        panic!("the run did not halt: {outcome:?}");
    };
    assert_eq!(step, "pilot");
    assert!(reason.contains("refused to enable"), "{reason}");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].email, email(1));
    let halted = store
        .last_audit(crate::state::AuditKind::Halted)
        .expect("the audit trail reads")
        .expect("the halt is in the audit trail");
    assert_eq!(halted.step.as_deref(), Some("pilot"));
    assert_eq!(halted.detail["failures"][0]["email"], "u01@x.io");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn rollouts_keep_the_three_rules_whatever_happens(case in case()) {
        if let Err(Broken(violation)) = run_case(&case) {
            prop_assert!(false, "{violation}\n{case:?}");
        }
    }
}
