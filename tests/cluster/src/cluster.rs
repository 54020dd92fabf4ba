//! The whole picture of issue 12: N kage-server instances behind one HAProxy, optionally on one PostgreSQL
//! database they share. Every instance gets the balancer's URL as its issuer (a token one instance signs names
//! the same `iss` as any other's, which is what clients check) and trusts the balancer's X-Forwarded-For.
//! None gets `--demo`: a demo server on loopback accepts only a Host naming its own address, and requests
//! through the balancer name the balancer's.

use std::net::SocketAddr;

use crate::haproxy_config::server_name;
use crate::{Haproxy, HaproxyOptions, HarnessError, Instance, Postgres};

/// The database the instances share when the cluster runs on PostgreSQL.
pub const DATABASE: &str = "kage";

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Prefix of the logs: `target/cluster/<name>-instance-<i>.log`, `<name>-haproxy.log`,
    /// `<name>-postgres.log`. Tests running at the same time need different names.
    pub name: String,
    pub instances: usize,
    /// Start a throwaway PostgreSQL cluster and give every instance `--database-url` to database
    /// [`DATABASE`] on it; without it each instance keeps its own SQLite database in its data directory.
    pub postgres: bool,
    /// Added to every instance's command line after the cluster's own arguments.
    pub instance_args: Vec<String>,
    pub haproxy: HaproxyOptions,
}

impl ClusterOptions {
    /// Two instances on SQLite, production-like balancer timeouts.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            instances: 2,
            postgres: false,
            instance_args: Vec::new(),
            haproxy: HaproxyOptions::default(),
        }
    }
}

pub struct Cluster {
    // Dropped in this order: the balancer first (no more traffic), then the instances, then the database
    // they were connected to.
    haproxy: Haproxy,
    instances: Vec<Instance>,
    postgres: Option<Postgres>,
    database_url: Option<String>,
}

impl Cluster {
    /// Starts everything and returns once every instance is healthy and the balancer sees all of them up.
    pub fn start(options: ClusterOptions) -> Result<Self, HarnessError> {
        let (postgres, database_url) = if options.postgres {
            let postgres = Postgres::start_named(&format!("{}-postgres", options.name))?;
            let url = postgres.create_database(DATABASE)?;
            (Some(postgres), Some(url))
        } else {
            (None, None)
        };

        let mut haproxy_options = options.haproxy.clone();
        let port = match haproxy_options.port {
            Some(port) => port,
            None => crate::free_port()?,
        };
        haproxy_options.port = Some(port);
        haproxy_options.log_name.get_or_insert_with(|| format!("{}-haproxy", options.name));
        let issuer = format!("http://127.0.0.1:{port}");
        let mut args = vec!["--issuer".to_owned(), issuer, "--trust-forwarded-for".to_owned()];
        if let Some(url) = &database_url {
            args.extend(["--database-url".to_owned(), url.clone()]);
        }
        args.extend(options.instance_args.iter().cloned());

        // All spawned first, then waited for: they start side by side.
        let mut instances = (0..options.instances)
            .map(|index| Instance::spawn(&format!("{}-{}", options.name, server_name(index)), &args))
            .collect::<Result<Vec<_>, _>>()?;
        for instance in &mut instances {
            instance.wait_healthy(crate::instance::START_TIMEOUT)?;
        }
        let backends: Vec<SocketAddr> = instances.iter().map(Instance::addr).collect();
        let mut haproxy = Haproxy::start_with(&haproxy_options, &backends)?;
        haproxy.wait_backends_up(instances.len())?;
        Ok(Self { haproxy, instances, postgres, database_url })
    }

    /// The balancer's URL: what a client uses, and every instance's issuer.
    pub fn url(&self) -> String {
        self.haproxy.url()
    }

    pub fn instance(&self, index: usize) -> &Instance {
        &self.instances[index]
    }

    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// The name the balancer gives instance `index` (in `show stat` and the `X-Kage-Backend` header).
    pub fn server_name(&self, index: usize) -> String {
        server_name(index)
    }

    /// Crashes instance `index` (SIGKILL). Returns at once: the balancer notices on its own, as it would in
    /// production (see [`Haproxy::wait_server_down`] to wait for that).
    pub fn kill(&mut self, index: usize) -> Result<(), HarnessError> {
        self.instance_mut(index)?.kill();
        Ok(())
    }

    /// Restarts instance `index` on its port and returns once the balancer sends it requests again.
    pub fn restart(&mut self, index: usize) -> Result<(), HarnessError> {
        self.instance_mut(index)?.restart()?;
        self.haproxy.wait_server_up(&server_name(index))
    }

    pub fn haproxy(&self) -> &Haproxy {
        &self.haproxy
    }

    pub fn haproxy_mut(&mut self) -> &mut Haproxy {
        &mut self.haproxy
    }

    /// The PostgreSQL cluster, if the options asked for one.
    pub fn postgres(&self) -> Option<&Postgres> {
        self.postgres.as_ref()
    }

    /// The PostgreSQL cluster, to stop and start it (an outage).
    pub fn postgres_mut(&mut self) -> Option<&mut Postgres> {
        self.postgres.as_mut()
    }

    /// The URL every instance got as `--database-url`, if the cluster runs on PostgreSQL.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    fn instance_mut(&mut self, index: usize) -> Result<&mut Instance, HarnessError> {
        let count = self.instances.len();
        self.instances.get_mut(index).ok_or(HarnessError::NoSuchInstance { index, count })
    }
}
