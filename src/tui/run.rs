//! The runtime: owns the terminal, turns terminal events into actions through the key
//! table, runs effects (calling [`Services`], spawning slow work whose results come back
//! as actions on a channel), coalesces harvest progress and paces frames.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinSet;

use crate::domain::{CancelSignal, OrgId};
use crate::harvest::{Cancel, HarvestEvent};
use crate::platform::tty_watch::{Readiness, TtyWatch};
use crate::tui::action::{Action, Effect, UserCommand};
use crate::tui::app::App;
use crate::tui::pacer::{tick_period, FramePacer, MIN_FRAME};
use crate::tui::services::{ConsoleOptions, Services};
use crate::tui::terminal::{self, Tui};
use crate::tui::theme::Theme;
use crate::tui::{draw, osc52};

/// The most actions one input may lead to (each effect answering with the next).
const MAX_CHAIN: usize = 64;

/// The sites read for the first frame (more than any terminal shows at once).
const HEAD_ROWS: usize = 300;
/// The most harvest events applied as one action.
const MAX_BATCH: usize = 100_000;
/// How long quitting waits for a cancelled harvest to stop.
const HARVEST_STOP_WAIT: Duration = Duration::from_secs(3);
/// How often the input thread checks whether to stop.
const INPUT_POLL: Duration = Duration::from_millis(50);
/// The most events the input thread forwards before looking at the terminal again.
const MAX_EVENTS_A_ROUND: usize = 1024;
/// How long quitting waits for the input thread to end.
const INPUT_STOP_WAIT: Duration = Duration::from_millis(200);
/// How long a hang-up waits for a cancelled harvest to stop (the process ends within 2 s).
const HANGUP_STOP_WAIT: Duration = Duration::from_millis(1500);

/// Set up the terminal, run the event loop until quit, restore the terminal (also on
/// error and panic).
pub async fn run(services: Arc<dyn Services>, options: ConsoleOptions) -> anyhow::Result<()> {
    // The first frame needs the first screen of sites and the totals; the rest is read
    // once it is on screen.
    let theme = Theme::from_env();
    let mut app = match services.overview_head(HEAD_ROWS)? {
        Some((head, totals)) => App::with_head(head, totals, options, theme, Instant::now()),
        None => App::new(services.overview()?, options, theme, Instant::now()),
    };
    if let Some(notice) = services.notice() {
        app.warn(notice);
    }
    let mut tui = Tui::enter()?;
    let watch = TtyWatch::open().map(Arc::new);
    let (input_tx, input_rx) = mpsc::unbounded_channel();
    let _input = InputThread::spawn(input_tx, watch.clone())?;
    let mut runtime = Runtime::new(services, osc52::Route::Plain);
    runtime.detect_clipboard_route();
    runtime.watch = watch.clone();
    // SIGTERM, SIGHUP (and a SIGINT from outside: in raw mode Ctrl-C is a key) end the
    // console as `q` does: a running harvest is cancelled and recorded with the signal, a
    // copied secret is cleared from the clipboard, the terminal is restored. A terminal
    // that went away (reads at end of file, writes failing) is a hang-up as SIGHUP is.
    let mut signals = crate::signals::StopSignals::listen()?;
    let result = tokio::select! {
        r = runtime.run(&mut tui, &mut app, input_rx) => r,
        Some(signal) = signals.recv() => Err(anyhow::Error::new(crate::signals::Signalled(signal))),
    };
    let result = match result {
        Err(e)
            if e.downcast_ref::<crate::signals::Signalled>().is_none()
                && watch.as_ref().is_some_and(|w| w.gone()) =>
        {
            tracing::info!(error = %format!("{e:#}"), "the console's terminal went away");
            Err(anyhow::Error::new(crate::signals::Signalled(
                CancelSignal::Hangup,
            )))
        }
        other => other,
    };
    let signal = result
        .as_ref()
        .err()
        .and_then(|e| e.downcast_ref::<crate::signals::Signalled>())
        .map(|s| s.0);
    let stop_wait = match signal {
        Some(CancelSignal::Hangup) => HANGUP_STOP_WAIT,
        _ => HARVEST_STOP_WAIT,
    };
    if signal == Some(CancelSignal::Hangup) && watch.as_ref().is_some_and(|w| w.gone()) {
        tui.abandon();
    }
    // Every later signal still works: one arriving while the harvest stops ends the wait.
    // A hang-up comes twice (the terminal read at end of file, then SIGHUP to the session
    // leader, in either order): its SIGHUP is not a later signal, or it would cut short the
    // wait that records the cancelled harvest.
    let later = async {
        loop {
            match signals.recv().await {
                Some(CancelSignal::Hangup) if signal == Some(CancelSignal::Hangup) => continue,
                Some(again) => return Some(again),
                None => return None,
            }
        }
    };
    tokio::select! {
        () = runtime.shutdown(&mut tui, signal, stop_wait) => {}
        Some(again) = later => {
            tracing::info!(signal = again.name(), "stop signal received while stopping");
        }
    }
    tui.restore();
    result
}

/// The console without a terminal (television's `run_headless` is the model): `out`
/// stands for a terminal of `size` (frames and OSC 52 sequences are written to it) and
/// `input` for the keyboard. Everything else — services, effects, harvest events, the
/// frame pacer, the shutdown that cancels a harvest and clears the clipboard — is the
/// real runtime's. Returns the app as it ended, once the console quit; an input that
/// closes first is an error, as a closed terminal is.
pub async fn run_headless<W: Write>(
    services: Arc<dyn Services>,
    options: ConsoleOptions,
    size: (u16, u16),
    mut input: UnboundedReceiver<Event>,
    out: W,
) -> anyhow::Result<App> {
    let overview = services.overview()?;
    let mut app = App::new(overview, options, Theme::new(false), Instant::now());
    if let Some(notice) = services.notice() {
        app.warn(notice);
    }
    let mut tui = Tui::headless(out, size)?;
    let (input_tx, input_rx) = mpsc::unbounded_channel();
    let forward = tokio::spawn(async move {
        while let Some(event) = input.recv().await {
            if input_tx.send(TermInput::Event(event)).is_err() {
                break;
            }
        }
    });
    let mut runtime = Runtime::new(services, osc52::Route::Plain);
    let result = runtime.run(&mut tui, &mut app, input_rx).await;
    runtime.shutdown(&mut tui, None, HARVEST_STOP_WAIT).await;
    forward.abort();
    result.map(|()| app)
}

/// What the input thread sends.
enum TermInput {
    Event(Event),
    Failed(String),
    /// The terminal went away (reads at end of file or failing): a hang-up.
    HungUp,
}

/// A thread reading terminal events (crossterm's reader) until stopped. Each round first
/// waits on the terminal itself ([`TtyWatch`]): a terminal that went away ends the thread
/// with [`TermInput::HungUp`] instead of crossterm's reader retrying its end of file for
/// ever.
struct InputThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl InputThread {
    fn spawn(
        tx: UnboundedSender<TermInput>,
        watch: Option<Arc<TtyWatch>>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("simsid-input".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    let wait = match &watch {
                        Some(watch) => match watch.wait(INPUT_POLL) {
                            Readiness::Gone => {
                                let _ = tx.send(TermInput::HungUp);
                                break;
                            }
                            // Idle still asks crossterm, which also reports resizes.
                            Readiness::Ready | Readiness::Idle => Duration::ZERO,
                        },
                        None => INPUT_POLL,
                    };
                    if !forward_events(&tx, wait) {
                        break;
                    }
                }
            })?;
        Ok(InputThread {
            stop,
            handle: Some(handle),
        })
    }
}

/// Sends every event crossterm has ready (waiting up to `wait` for the first); false when
/// the thread should end (the console is gone, or reading failed).
fn forward_events(tx: &UnboundedSender<TermInput>, mut wait: Duration) -> bool {
    for _ in 0..MAX_EVENTS_A_ROUND {
        let next = match event::poll(wait) {
            Ok(false) => return true,
            Ok(true) => event::read().map(TermInput::Event),
            Err(e) => Err(e),
        };
        let next = next.unwrap_or_else(|e| TermInput::Failed(e.to_string()));
        let failed = matches!(next, TermInput::Failed(_));
        if tx.send(next).is_err() || failed {
            return false;
        }
        wait = Duration::ZERO;
    }
    true
}

impl Drop for InputThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            // Bounded: a thread caught in a read of a terminal that went away is left to
            // end with the process rather than holding the exit up.
            let deadline = Instant::now() + INPUT_STOP_WAIT;
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
    }
}

/// A secret read for the clipboard, back from its task.
struct CopyRead {
    org: OrgId,
    client_id: String,
    result: anyhow::Result<SecretString>,
}

/// A harvest running in a task.
struct RunningHarvest {
    cancel: Cancel,
    events: Option<UnboundedReceiver<HarvestEvent>>,
    task: tokio::task::JoinHandle<()>,
}

struct Runtime {
    services: Arc<dyn Services>,
    /// How a copy reaches the clipboard (tmux asked in the background at start).
    route: osc52::Route,
    actions_tx: UnboundedSender<Action>,
    actions_rx: UnboundedReceiver<Action>,
    copies_tx: UnboundedSender<CopyRead>,
    copies_rx: UnboundedReceiver<CopyRead>,
    harvest: Option<RunningHarvest>,
    tasks: JoinSet<()>,
    /// A copied secret may be on the clipboard.
    clipboard_dirty: bool,
    /// The real terminal, checked for a hang-up at each tick (`None` headless).
    watch: Option<Arc<TtyWatch>>,
}

impl Runtime {
    fn new(services: Arc<dyn Services>, route: osc52::Route) -> Self {
        let (actions_tx, actions_rx) = mpsc::unbounded_channel();
        let (copies_tx, copies_rx) = mpsc::unbounded_channel();
        Runtime {
            services,
            route,
            actions_tx,
            actions_rx,
            copies_tx,
            copies_rx,
            harvest: None,
            tasks: JoinSet::new(),
            clipboard_dirty: false,
            watch: None,
        }
    }

    /// Asks tmux, off the loop, how a copy reaches the clipboard; the answer comes back as
    /// [`Action::ClipboardRoute`] (a copy before it goes the plain way).
    fn detect_clipboard_route(&mut self) {
        if !osc52::inside_tmux() {
            return;
        }
        let tx = self.actions_tx.clone();
        self.tasks.spawn(async move {
            if let Ok(route) = tokio::task::spawn_blocking(osc52::detect_route).await {
                let _ = tx.send(Action::ClipboardRoute(route));
            }
        });
    }

    /// The event loop: until the console quits, or the input fails or closes.
    async fn run<W: Write>(
        &mut self,
        tui: &mut Tui<W>,
        app: &mut App,
        mut input_rx: UnboundedReceiver<TermInput>,
    ) -> anyhow::Result<()> {
        let (width, height) = tui.size()?;
        app.update(Action::Resize { width, height });
        // The first frame comes from the local store; what the start asks for (a viewer's
        // pull) runs in the background.
        tui.terminal.draw(|frame| draw::draw(app, frame))?;
        self.dispatch(tui, app, Action::Started)?;
        let mut pacer = FramePacer::new(MIN_FRAME);
        let mut next_tick = Instant::now();
        loop {
            if terminal::panicked() {
                anyhow::bail!("internal error");
            }
            let now = Instant::now();
            if now >= next_tick {
                if self.watch.as_ref().is_some_and(|w| w.gone()) {
                    anyhow::bail!("the terminal went away");
                }
                self.dispatch(tui, app, Action::Tick(now))?;
                next_tick = now + tick_period(app.harvest_running());
                pacer.mark_dirty();
            }
            if app.should_quit() {
                return Ok(());
            }
            if pacer.should_draw(now) {
                tui.terminal.draw(|frame| draw::draw(app, frame))?;
                pacer.drew(now);
            }
            let wake = pacer
                .next_frame(now)
                .map_or(next_tick, |frame| frame.min(next_tick));
            let harvest_rx = self.harvest.as_mut().and_then(|h| h.events.as_mut());
            tokio::select! {
                input = input_rx.recv() => {
                    // Every key already waiting is applied before the one frame that shows them.
                    let mut next = input;
                    for _ in 0..MAX_EVENTS_A_ROUND {
                        match next {
                            Some(TermInput::Event(ev)) => self.on_event(tui, app, ev)?,
                            Some(TermInput::Failed(e)) => anyhow::bail!("reading the terminal failed: {e}"),
                            Some(TermInput::HungUp) => anyhow::bail!("the terminal went away"),
                            None => anyhow::bail!("the terminal input closed"),
                        }
                        match input_rx.try_recv() {
                            Ok(more) => next = Some(more),
                            Err(_) => break,
                        }
                    }
                    pacer.mark_urgent();
                }
                Some(action) = self.actions_rx.recv() => {
                    if let Action::ClipboardRoute(route) = action {
                        self.route = route;
                    }
                    if matches!(action, Action::HarvestFinished(_)) {
                        self.drain_harvest(tui, app)?;
                        self.harvest = None;
                    }
                    self.dispatch(tui, app, action)?;
                }
                Some(copy) = self.copies_rx.recv() => {
                    let action = self.write_copy(tui, copy);
                    self.dispatch(tui, app, action)?;
                }
                event = recv_or_wait(harvest_rx) => match event {
                    Some(first) => self.on_harvest_event(tui, app, first)?,
                    None => {
                        if let Some(h) = self.harvest.as_mut() {
                            h.events = None;
                        }
                    }
                },
                () = tokio::time::sleep_until(wake.into()) => {}
            }
            pacer.mark_dirty();
        }
    }

    fn on_event<W: Write>(
        &mut self,
        tui: &mut Tui<W>,
        app: &mut App,
        event: Event,
    ) -> anyhow::Result<()> {
        match event {
            Event::Key(key) => {
                let effects = app.handle_key(key);
                self.run_effects(tui, app, effects)?;
            }
            Event::Resize(width, height) => {
                self.dispatch(tui, app, Action::Resize { width, height })?;
            }
            Event::Paste(text) if app.input().is_some() => {
                for c in text.chars().filter(|c| !c.is_control()).take(1000) {
                    self.dispatch(tui, app, Action::Key(UserCommand::InputChar(c)))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies one harvest event and every other one already waiting, as one action.
    fn on_harvest_event<W: Write>(
        &mut self,
        tui: &mut Tui<W>,
        app: &mut App,
        first: HarvestEvent,
    ) -> anyhow::Result<()> {
        let mut batch = vec![first];
        if let Some(rx) = self.harvest.as_mut().and_then(|h| h.events.as_mut()) {
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(ev) => batch.push(ev),
                    Err(_) => break,
                }
            }
        }
        self.dispatch(tui, app, Action::Harvest(batch))
    }

    /// Applies every harvest event still queued (before the harvest's end is applied).
    fn drain_harvest<W: Write>(&mut self, tui: &mut Tui<W>, app: &mut App) -> anyhow::Result<()> {
        let mut batch = Vec::new();
        if let Some(rx) = self.harvest.as_mut().and_then(|h| h.events.as_mut()) {
            while let Ok(ev) = rx.try_recv() {
                batch.push(ev);
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.dispatch(tui, app, Action::Harvest(batch))
    }

    /// Applies an action and runs its effects, feeding their results back in. A chain
    /// longer than [`MAX_CHAIN`] is a bug (an effect answering with an action that asks for
    /// it again): it is logged and the rest dropped rather than freezing the console.
    fn dispatch<W: Write>(
        &mut self,
        tui: &mut Tui<W>,
        app: &mut App,
        action: Action,
    ) -> anyhow::Result<()> {
        let effects = app.update(action);
        self.run_effects(tui, app, effects)
    }

    /// Runs effects, feeding their results back in (bounded as [`Runtime::dispatch`]).
    fn run_effects<W: Write>(
        &mut self,
        tui: &mut Tui<W>,
        app: &mut App,
        effects: Vec<Effect>,
    ) -> anyhow::Result<()> {
        let mut queue = VecDeque::new();
        for effect in effects {
            if let Some(next) = self.execute(tui, effect)? {
                queue.push_back(next);
            }
        }
        let mut steps = 0;
        while let Some(action) = queue.pop_front() {
            steps += 1;
            if steps > MAX_CHAIN {
                tracing::error!(
                    dropped = queue.len() + 1,
                    "the console's action chain is longer than {MAX_CHAIN}: dropping the rest"
                );
                debug_assert!(false, "action chain longer than {MAX_CHAIN}");
                break;
            }
            for effect in app.update(action) {
                if let Some(next) = self.execute(tui, effect)? {
                    queue.push_back(next);
                }
            }
        }
        Ok(())
    }

    /// Starts a harvest (the whole list or one school) unless one runs: its events come on
    /// their own channel, its end as [`Action::HarvestFinished`].
    fn start_harvest(
        &mut self,
        start: impl FnOnce(
            UnboundedSender<HarvestEvent>,
            Cancel,
        ) -> futures::future::BoxFuture<
            'static,
            anyhow::Result<crate::harvest::HarvestEnd>,
        >,
    ) {
        if self.harvest.is_some() {
            return;
        }
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let cancel = Cancel::new();
        let future = start(events_tx, cancel.clone());
        let tx = self.actions_tx.clone();
        let task = tokio::spawn(async move {
            let result = future.await.map_err(message);
            let _ = tx.send(Action::HarvestFinished(result));
        });
        self.harvest = Some(RunningHarvest {
            cancel,
            events: Some(events_rx),
            task,
        });
    }

    /// Runs one effect; quick ones answer at once, slow ones answer later on the channel.
    fn execute<W: Write>(
        &mut self,
        tui: &mut Tui<W>,
        effect: Effect,
    ) -> anyhow::Result<Option<Action>> {
        let s = self.services.clone();
        // Forget the tasks that have ended (their answers came on the channels).
        while self.tasks.try_join_next().is_some() {}
        Ok(match effect {
            Effect::LoadOverview => Some(Action::OverviewLoaded(s.overview().map_err(message))),
            Effect::LoadAllSites => {
                // Off the loop: keys keep being read (and wait for the list in the app).
                let tx = self.actions_tx.clone();
                self.tasks.spawn(async move {
                    let result = tokio::task::spawn_blocking(move || s.overview())
                        .await
                        .map_err(|e| anyhow::anyhow!("loading the sites stopped: {e}"))
                        .and_then(|r| r)
                        .map_err(message);
                    let _ = tx.send(Action::OverviewLoaded(result));
                });
                None
            }
            Effect::LoadSite(org) => {
                let result = s.site(&org).map_err(message);
                Some(Action::SiteLoaded { org, result })
            }
            Effect::LoadRuns => Some(Action::RunsLoaded(s.runs().map_err(message))),
            Effect::Reveal { org, client_id } => {
                // A task: the secret may come from a vault that answers slowly or never.
                let future = s.reveal(&org, &client_id);
                let tx = self.actions_tx.clone();
                self.tasks.spawn(async move {
                    let result = future.await.map_err(message);
                    let _ = tx.send(Action::Revealed {
                        org,
                        client_id,
                        result,
                    });
                });
                None
            }
            Effect::Copy { org, client_id } => {
                // A task too; the secret comes back to the loop, which writes it (OSC 52).
                let future = s.copy_secret(&org, &client_id);
                let tx = self.copies_tx.clone();
                self.tasks.spawn(async move {
                    let result = future.await;
                    let _ = tx.send(CopyRead {
                        org,
                        client_id,
                        result,
                    });
                });
                None
            }
            Effect::ClearClipboard => {
                self.clear_clipboard(tui);
                None
            }
            Effect::CheckSecretsAccess => {
                let future = s.may_read_secrets();
                let tx = self.actions_tx.clone();
                self.tasks.spawn(async move {
                    let _ = tx.send(Action::SecretsAccess(future.await));
                });
                None
            }
            Effect::Pull => {
                let future = s.pull();
                let tx = self.actions_tx.clone();
                self.tasks.spawn(async move {
                    let result = future.await.map_err(message);
                    let _ = tx.send(Action::Pulled(result));
                });
                None
            }
            Effect::Verify(org) => {
                let future = s.verify(&org);
                let tx = self.actions_tx.clone();
                self.tasks.spawn(async move {
                    let result = future.await.map_err(message);
                    let _ = tx.send(Action::Verified { org, result });
                });
                None
            }
            Effect::StartHarvest => {
                self.start_harvest(|events, cancel| s.harvest(events, cancel));
                None
            }
            Effect::StartSiteHarvest(org) => {
                self.start_harvest(|events, cancel| s.harvest_site(&org, events, cancel));
                None
            }
            Effect::CancelHarvest => {
                if let Some(h) = &self.harvest {
                    h.cancel.cancel();
                }
                None
            }
            Effect::SwitchProfile(name) => {
                let result = s
                    .switch_profile(&name)
                    .and_then(|()| s.overview())
                    .map_err(message);
                Some(Action::ProfileSwitched { name, result })
            }
            Effect::LoadExposures => Some(Action::ExposuresLoaded(s.exposures().map_err(message))),
            Effect::LoadSiteExposure(org) => {
                let result = s.site_exposures(&org).map_err(message);
                Some(Action::SiteExposureLoaded { org, result })
            }
            Effect::VerifyListed(list) => {
                let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
                let future = s.verify_listed(list, progress_tx);
                let tx = self.actions_tx.clone();
                self.tasks.spawn(async move {
                    let forward = {
                        let tx = tx.clone();
                        async move {
                            while let Some(tally) = progress_rx.recv().await {
                                let _ = tx.send(Action::ListedVerifyProgress(tally));
                            }
                        }
                    };
                    let (result, ()) = tokio::join!(future, forward);
                    let _ = tx.send(Action::ListedVerified(result.map_err(message)));
                });
                None
            }
            Effect::Quit => None,
        })
    }

    /// Sends a secret read for the clipboard to the terminal (OSC 52); the answer to
    /// [`Effect::Copy`].
    #[allow(clippy::disallowed_methods)] // an explicit copy sends the bytes through OSC 52
    fn write_copy<W: Write>(&mut self, tui: &mut Tui<W>, copy: CopyRead) -> Action {
        let CopyRead {
            org,
            client_id,
            result,
        } = copy;
        let result = match result {
            Ok(secret) => {
                let tmux = self.route.wrapped();
                self.clipboard_dirty = true;
                tui.write_raw(|out| {
                    osc52::write_osc52(out, secret.expose_secret().as_bytes(), tmux)
                })
                .map_err(|e| e.to_string())
            }
            Err(e) => Err(message(e)),
        };
        Action::Copied {
            org,
            client_id,
            result,
        }
    }

    fn clear_clipboard<W: Write>(&mut self, tui: &mut Tui<W>) {
        let tmux = self.route.wrapped();
        if tui.write_raw(|out| osc52::write_clear(out, tmux)).is_ok() {
            self.clipboard_dirty = false;
        }
    }

    /// On the way out: stop a running harvest (nothing is committed; `signal`, when a stop
    /// signal ends the console, is recorded with the run), clear a copied secret from the
    /// clipboard, stop background tasks.
    async fn shutdown<W: Write>(
        &mut self,
        tui: &mut Tui<W>,
        signal: Option<CancelSignal>,
        stop_wait: Duration,
    ) {
        if let Some(h) = self.harvest.take() {
            match signal {
                Some(signal) => h.cancel.cancel_by(signal),
                None => h.cancel.cancel(),
            }
            let mut task = h.task;
            if tokio::time::timeout(stop_wait, &mut task).await.is_err() {
                task.abort();
            }
        }
        if self.clipboard_dirty && signal != Some(CancelSignal::Hangup) {
            self.clear_clipboard(tui);
        }
        self.tasks.abort_all();
    }
}

/// The next event of a receiver, or never when there is none.
async fn recv_or_wait(rx: Option<&mut UnboundedReceiver<HarvestEvent>>) -> Option<HarvestEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// An error as one line for the user.
fn message(e: anyhow::Error) -> String {
    format!("{e:#}")
}
