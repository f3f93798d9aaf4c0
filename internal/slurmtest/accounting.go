// SPDX-License-Identifier: Apache-2.0

package slurmtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// accountingNeeds are the programs of Slurm accounting over MariaDB, from
// Debian's packages mariadb-server and slurmdbd (.ci/metrics.sh).
var accountingNeeds = []string{"mariadbd", "mariadb-install-db", "mariadb", "slurmdbd", "sacct", "sacctmgr"}

// accountingMissing says why this machine cannot run accounting, or "".
func accountingMissing() string {
	for _, p := range accountingNeeds {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Sprintf("%s not installed: apt-get install mariadb-server slurmdbd (.ci/metrics.sh)", p)
		}
	}
	if m, _ := filepath.Glob("/usr/lib/*/slurm-wlm/accounting_storage_mysql.so"); len(m) == 0 {
		return "accounting_storage_mysql.so not found (slurmdbd)"
	}
	if pids := pidsOf("slurmdbd"); len(pids) > 0 {
		return fmt.Sprintf("a slurmdbd is already running (pids %v): only one test cluster per machine", pids)
	}
	return ""
}

// freePort returns a TCP port on loopback that nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}

// startAccounting starts a private MariaDB (its own data directory and
// port, run as root) and a slurmdbd over it, registers the cluster, an
// account and the users, and returns the slurm.conf lines that send the
// cluster's jobs there. munged must be running.
func (c *Cluster) startAccounting() (string, error) {
	dir := filepath.Join(c.Dir, "db")
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return "", err
	}
	if out, err := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		return "", fmt.Errorf("mariadb-install-db: %w: %s", err, out)
	}
	dbPort, err := freePort()
	if err != nil {
		return "", err
	}
	sock := filepath.Join(dir, "mysqld.sock")
	c.mariadb = exec.Command("mariadbd", "--no-defaults", "--datadir="+data, "--user=root",
		"--socket="+sock, "--port="+strconv.Itoa(dbPort), "--bind-address=127.0.0.1", "--skip-name-resolve",
		"--pid-file="+filepath.Join(dir, "mysqld.pid"), "--log-error="+filepath.Join(c.Dir, "log", "mariadb.log"),
		"--innodb-buffer-pool-size=64M")
	c.mariadb.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.mariadb.Start(); err != nil {
		return "", fmt.Errorf("mariadbd: %w", err)
	}
	sql := "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'softmigtest'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
	if err := retry(60*time.Second, func() error {
		out, err := exec.Command("mariadb", "--no-defaults", "--socket="+sock, "-u", "root", "-e", sql).CombinedOutput()
		if err != nil {
			return fmt.Errorf("mariadb: %w: %s", err, out)
		}
		return nil
	}); err != nil {
		return "", err
	}
	dbdPort, err := freePort()
	if err != nil {
		return "", err
	}
	// slurmdbd reads slurmdbd.conf beside SLURM_CONF; it must be the
	// SlurmUser's and mode 0600 (it holds the database password).
	conf := fmt.Sprintf(`AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=%d
SlurmUser=root
PidFile=%s
LogFile=%s
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=%d
StorageUser=slurm
StoragePass=softmigtest
StorageLoc=slurm_acct_db
`, dbdPort, filepath.Join(c.Dir, "run", "slurmdbd.pid"), filepath.Join(c.Dir, "log", "slurmdbd.log"), dbPort)
	if err := os.WriteFile(filepath.Join(c.ConfDir, "slurmdbd.conf"), []byte(conf), 0o600); err != nil {
		return "", err
	}
	if out, err := c.command("slurmdbd").CombinedOutput(); err != nil {
		return "", fmt.Errorf("slurmdbd: %w: %s", err, out)
	}
	lines := fmt.Sprintf("AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=127.0.0.1\nAccountingStoragePort=%d\n", dbdPort)
	// sacctmgr reads slurm.conf for the accounting host: write those
	// lines before asking it anything.
	if err := c.setAccountingLines(lines); err != nil {
		return "", err
	}
	// The first start creates the tables: on a busy machine that takes a while.
	if err := retry(120*time.Second, func() error {
		if b, err := os.ReadFile(filepath.Join(c.Dir, "run", "slurmdbd.pid")); err == nil && c.dbdPid == 0 {
			c.dbdPid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		_, stderr, err := c.Run("", "sacctmgr", "-i", "add", "cluster", "softmigtest")
		if err != nil && !strings.Contains(stderr, "already exists") {
			return fmt.Errorf("sacctmgr add cluster: %w: %s", err, stderr)
		}
		return nil
	}); err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"-i", "add", "account", "softmig", "cluster=softmigtest"},
		{"-i", "add", "user", "root," + User, "account=softmig", "cluster=softmigtest"},
	} {
		if _, stderr, err := c.Run("", "sacctmgr", args...); err != nil {
			return "", fmt.Errorf("sacctmgr %v: %w: %s", args, err, stderr)
		}
	}
	c.Accounting = true
	return lines, nil
}

// setAccountingLines puts lines in place of slurm.conf's accounting line.
func (c *Cluster) setAccountingLines(lines string) error {
	p := filepath.Join(c.ConfDir, "slurm.conf")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	const none = "AccountingStorageType=accounting_storage/none\n"
	conf := strings.Replace(string(b), none, lines, 1)
	if conf == string(b) {
		return fmt.Errorf("%s: no line %q to replace", p, strings.TrimSpace(none))
	}
	return os.WriteFile(p, []byte(conf), 0o644)
}

// stopAccounting stops slurmdbd and MariaDB.
func (c *Cluster) stopAccounting() {
	if c.dbdPid > 0 && alive(c.dbdPid) {
		syscall.Kill(c.dbdPid, syscall.SIGTERM)
		waitGone([]int{c.dbdPid}, 15*time.Second)
		if alive(c.dbdPid) {
			syscall.Kill(c.dbdPid, syscall.SIGKILL)
		}
	}
	if c.mariadb != nil && c.mariadb.Process != nil {
		c.mariadb.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.mariadb.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.mariadb.Process.Kill()
			<-done
		}
	}
}

func retry(within time.Duration, f func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}
