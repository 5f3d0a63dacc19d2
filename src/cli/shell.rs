//! Shell habits generated from the one clap definition: completion scripts and the man page.

use std::io::Write;

use clap::CommandFactory;

use super::args::Cli;

/// Writes the completion script for `shell` to `out` (rendered in memory first: the
/// generator panics on a write error such as a closed pipe).
pub fn completions(shell: clap_complete::Shell, out: &mut impl Write) -> std::io::Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "simsid", &mut script);
    out.write_all(&script)
}

/// Writes the man page (roff), with a section per command, to `out`.
pub fn man_page(out: &mut impl Write) -> std::io::Result<()> {
    let command = Cli::command();
    clap_mangen::Man::new(command.clone()).render(out)?;
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = format!("simsid-{}", sub.get_name());
        let sub = sub.clone().display_name(name);
        writeln!(out)?;
        clap_mangen::Man::new(sub).render(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_completion_knows_every_command_and_flag() {
        let mut out = Vec::new();
        completions(clap_complete::Shell::Bash, &mut out).expect("render");
        let script = String::from_utf8(out).expect("utf-8");
        for word in [
            "harvest",
            "sites",
            "show",
            "verify",
            "export",
            "--reveal",
            "--profile",
        ] {
            assert!(
                script.contains(word),
                "{word} missing from the bash completion"
            );
        }
    }

    #[test]
    fn man_page_has_a_section_per_command() {
        let mut out = Vec::new();
        man_page(&mut out).expect("render");
        let page = String::from_utf8(out).expect("utf-8");
        assert!(page.contains(".TH simsid"));
        for command in ["simsid\\-harvest", "simsid\\-show", "simsid\\-export"] {
            assert!(
                page.contains(command),
                "{command} missing from the man page"
            );
        }
    }
}
