//! The objects the watches deliver, kept as the processor needs them, and the snapshot its
//! instances read: one writer (the watch task) applies changes and publishes a new immutable
//! snapshot once a burst of changes has settled; readers take the current one without a lock.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use weir_kubernetes::{
    Event, PartialObjectMeta,
    k8s_openapi::{
        api::{
            apps::v1::ReplicaSet,
            batch::v1::Job,
            core::v1::{Namespace, Node, Pod},
        },
        apimachinery::pkg::apis::meta::v1::ObjectMeta,
    },
};

use super::pod::{From, Identifier, Owners, PodRecord, PodView, Rules};

/// What every instance of one processor reads: the latest snapshot.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(super) snapshot: ArcSwap<Snapshot>,
}

/// The pods by identifier (with the rank that chose between pods sharing one), and the
/// namespace and node attributes by name.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(super) pods: HashMap<Identifier, (Arc<PodView>, Rank), foldhash::fast::RandomState>,
    pub(super) namespaces: HashMap<String, Vec<(String, String)>>,
    pub(super) nodes: HashMap<String, Vec<(String, String)>>,
}

/// One change from a watch.
pub(super) enum Change {
    Pod(Event<Box<Pod>>),
    Namespace(Event<PartialObjectMeta<Namespace>>),
    ReplicaSet(Event<PartialObjectMeta<ReplicaSet>>),
    Job(Event<PartialObjectMeta<Job>>),
    Node(Event<PartialObjectMeta<Node>>),
}

/// A namespace's or node's uid and what the label and annotation rules made of it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ObjectRecord {
    uid: String,
    attributes: Vec<(String, String)>,
}

/// The objects of one kind by key (a pod's uid, a namespace's or node's name, a ReplicaSet's
/// or Job's uid), with the list being gathered while the watch relists.
struct Cache<V> {
    live: HashMap<String, V>,
    relisting: Option<HashMap<String, V>>,
    listed: bool,
    counters: [metrics::Counter; 3],
}

impl<V: PartialEq> Cache<V> {
    fn new(kind: &str) -> Cache<V> {
        let counter =
            |what: &str| metrics::counter!(format!("otelcol_otelsvc_k8s_{kind}_{what}_total"));
        Cache {
            live: HashMap::new(),
            relisting: None,
            listed: false,
            counters: [counter("added"), counter("updated"), counter("deleted")],
        }
    }

    /// Applies one event, `record` making the key and kept value of an object (no value: the
    /// object is not kept). Returns what went away: deleted, or missing from a new list.
    fn apply<T>(
        &mut self,
        event: Event<T>,
        record: impl Fn(&T) -> (String, Option<V>),
    ) -> Vec<(String, V)> {
        match event {
            Event::Init => {
                self.relisting = Some(HashMap::new());
                Vec::new()
            }
            Event::InitApply(object) => {
                if let (key, Some(value)) = record(&object) {
                    self.relisting.get_or_insert_default().insert(key, value);
                }
                Vec::new()
            }
            Event::InitDone => {
                self.listed = true;
                let listed = self.relisting.take().unwrap_or_default();
                let old = std::mem::take(&mut self.live);
                for (key, value) in listed {
                    match old.get(&key) {
                        None => self.counters[0].increment(1),
                        Some(before) if *before != value => self.counters[1].increment(1),
                        Some(_) => {}
                    }
                    self.live.insert(key, value);
                }
                let gone: Vec<_> =
                    old.into_iter().filter(|(k, _)| !self.live.contains_key(k)).collect();
                self.counters[2].increment(gone.len() as u64);
                gone
            }
            Event::Apply(object) => match record(&object) {
                (key, Some(value)) => {
                    let before = self.live.insert(key, value);
                    self.counters[usize::from(before.is_some())].increment(1);
                    Vec::new()
                }
                (key, None) => self.remove(&key),
            },
            Event::Delete(object) => self.remove(&record(&object).0),
        }
    }

    fn remove(&mut self, key: &str) -> Vec<(String, V)> {
        let gone = self.live.remove_entry(key);
        self.counters[2].increment(u64::from(gone.is_some()));
        gone.into_iter().collect()
    }
}

/// Everything the watches delivered, owned by the watch task.
pub(super) struct Store {
    rules: Arc<Rules>,
    grace: Duration,
    pods: Cache<PodRecord>,
    /// Deleted pods, still found until the grace period after their deletion has passed.
    deleted: HashMap<String, (PodRecord, Instant)>,
    namespaces: Cache<ObjectRecord>,
    nodes: Cache<ObjectRecord>,
    /// A ReplicaSet's Deployment (name, uid), by the ReplicaSet's uid.
    replicasets: Cache<Option<(String, String)>>,
    /// A Job's CronJob (name, uid), by the Job's uid.
    jobs: Cache<Option<(String, String)>>,
    /// Each pod's view and identifiers, as last derived, by uid (live and deleted pods).
    views: HashMap<String, Derived>,
    /// Pods whose view must be derived again before the next snapshot.
    dirty: HashSet<String>,
    /// Every view must be derived again (an owner, namespace or node changed, or a relist).
    all_dirty: bool,
    changed: bool,
    table_size: metrics::Gauge,
}

/// A pod as the snapshot needs it.
struct Derived {
    view: Arc<PodView>,
    ids: Vec<Identifier>,
    rank: Rank,
}

/// Of two pods with one identifier (an IP reused), a live one, then the one started last.
pub(super) type Rank = (bool, i64);

impl Store {
    pub(super) fn new(rules: Arc<Rules>, grace: Duration) -> Store {
        Store {
            rules,
            grace,
            pods: Cache::new("pod"),
            deleted: HashMap::new(),
            namespaces: Cache::new("namespace"),
            nodes: Cache::new("node"),
            replicasets: Cache::new("replicaset"),
            jobs: Cache::new("job"),
            views: HashMap::new(),
            dirty: HashSet::new(),
            all_dirty: false,
            changed: false,
            table_size: metrics::gauge!("otelcol_otelsvc_k8s_pod_table_size_ratio"),
        }
    }

    /// Applies one change at `now`.
    pub(super) fn apply(&mut self, change: Change, now: Instant) {
        self.changed = true;
        let rules = self.rules.clone();
        match change {
            Change::Pod(event) => {
                match &event {
                    Event::Apply(pod) | Event::Delete(pod) => {
                        self.dirty.insert(pod.metadata.uid.clone().unwrap_or_default());
                    }
                    Event::InitDone => self.all_dirty = true,
                    Event::Init | Event::InitApply(_) => {}
                }
                for (uid, pod) in self.pods.apply(event, |pod| pod_record(&rules, pod)) {
                    self.deleted.insert(uid, (pod, now));
                }
                let live = &self.pods.live;
                self.deleted.retain(|uid, _| !live.contains_key(uid));
            }
            // pods' views read the owners and kube-system's uid: all are derived again
            Change::Namespace(event) => {
                self.namespaces.apply(event, |o| by_name(&o.metadata, &rules, From::Namespace));
                self.all_dirty = true;
            }
            Change::Node(event) => {
                self.nodes.apply(event, |o| by_name(&o.metadata, &rules, From::Node));
            }
            Change::ReplicaSet(event) => {
                self.replicasets.apply(event, |o| controller(&o.metadata, "Deployment"));
                self.all_dirty = true;
            }
            Change::Job(event) => {
                self.jobs.apply(event, |o| controller(&o.metadata, "CronJob"));
                self.all_dirty = true;
            }
        }
    }

    /// Forgets the deleted pods whose grace period has passed by `now`.
    pub(super) fn expire(&mut self, now: Instant) {
        let grace = self.grace;
        let expired: Vec<String> = self
            .deleted
            .iter()
            .filter(|(_, (_, at))| now.duration_since(*at) >= grace)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in expired {
            self.deleted.remove(&uid);
            self.dirty.insert(uid);
            self.changed = true;
        }
    }

    /// Whether the pods have been listed once.
    pub(super) fn pods_listed(&self) -> bool {
        self.pods.listed
    }

    /// A new snapshot, if anything changed since the last. Only the views of pods that
    /// changed are derived again (all of them after a change of owners or a relist); the
    /// snapshot itself is a new map of shared identifiers and views.
    pub(super) fn snapshot(&mut self) -> Option<Snapshot> {
        if !std::mem::take(&mut self.changed) {
            return None;
        }
        if std::mem::take(&mut self.all_dirty) {
            self.views.clear();
            self.dirty.extend(self.pods.live.keys().cloned());
            self.dirty.extend(self.deleted.keys().cloned());
        }
        let dirty = std::mem::take(&mut self.dirty);
        let derived: Vec<(String, Option<Derived>)> = dirty
            .into_iter()
            .map(|uid| {
                let derived = self.derive(&uid);
                (uid, derived)
            })
            .collect();
        for (uid, derived) in derived {
            match derived {
                Some(derived) => self.views.insert(uid, derived),
                None => self.views.remove(&uid),
            };
        }
        let mut pods = HashMap::with_capacity_and_hasher(
            self.views.len() * 3,
            foldhash::fast::RandomState::default(),
        );
        for derived in self.views.values() {
            for id in &derived.ids {
                if pods.get(id).is_none_or(|(_, rank): &(_, Rank)| derived.rank > *rank) {
                    pods.insert(id.clone(), (derived.view.clone(), derived.rank));
                }
            }
        }
        self.table_size.set(pods.len() as f64);
        let namespaces =
            self.namespaces.live.iter().map(|(name, o)| (name.clone(), o.attributes.clone()));
        let wants_uid = self.rules.wants("k8s.node.uid");
        let nodes = self.nodes.live.iter().map(|(name, o)| {
            let mut attributes = o.attributes.clone();
            if wants_uid {
                attributes.push(("k8s.node.uid".to_owned(), o.uid.clone()));
            }
            (name.clone(), attributes)
        });
        Some(Snapshot { pods, namespaces: namespaces.collect(), nodes: nodes.collect() })
    }

    /// The view and identifiers of pod `uid`, live or deleted, if it is kept.
    fn derive(&self, uid: &str) -> Option<Derived> {
        let live = self.pods.live.get(uid).map(|p| (p, true));
        let (record, live) = live.or_else(|| self.deleted.get(uid).map(|(p, _)| (p, false)))?;
        let view = self.rules.view(record, self);
        let ids = self.rules.identifiers(record, &view);
        Some(Derived { view: Arc::new(view), ids, rank: (live, record.started) })
    }
}

impl Owners for Store {
    fn deployment(&self, replicaset_uid: &str) -> Option<&(String, String)> {
        self.replicasets.live.get(replicaset_uid)?.as_ref()
    }

    fn cronjob(&self, job_uid: &str) -> Option<&(String, String)> {
        self.jobs.live.get(job_uid)?.as_ref()
    }

    fn cluster_uid(&self) -> Option<&str> {
        self.namespaces.live.get("kube-system").map(|n| n.uid.as_str())
    }
}

/// A pod by uid, with what is kept of it (nothing for an excluded pod).
fn pod_record(rules: &Rules, pod: &Pod) -> (String, Option<PodRecord>) {
    (pod.metadata.uid.clone().unwrap_or_default(), rules.pod(pod))
}

/// A namespace or node by name, with its uid and rule attributes.
fn by_name(meta: &ObjectMeta, rules: &Rules, from: From) -> (String, Option<ObjectRecord>) {
    let record = ObjectRecord {
        uid: meta.uid.clone().unwrap_or_default(),
        attributes: rules.object_attributes(from, meta),
    };
    (meta.name.clone().unwrap_or_default(), Some(record))
}

/// An object by uid, with its controlling owner of `kind` (name, uid).
fn controller(meta: &ObjectMeta, kind: &str) -> (String, Option<Option<(String, String)>>) {
    let owner = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == kind && o.controller == Some(true));
    let owner = owner.map(|o| (o.name.clone(), o.uid.clone()));
    (meta.uid.clone().unwrap_or_default(), Some(owner))
}
