# bash completion for nlhook and nlhookd  -*- shell-script -*-

# Kept in step with src/core/event.h by tests/packaging/man-check.py.
_nlhook_types="link.new link.del link.up link.down link.carrier link.nocarrier
link.rename link.state addr.add addr.del route.add route.del neigh.add neigh.del
net.state net.online net.offline
wifi.connect wifi.disconnect wifi.associate wifi.authenticate wifi.deauth
wifi.disassoc wifi.roam wifi.authorized wifi.iface.new wifi.iface.del
wifi.scan.done wifi.reg.change wifi.station.new wifi.station.del nflog
nlhook.start nlhook.reload nlhook.resync nlhook.drop netns.add netns.del"

_nlhook()
{
	local cur prev words cword cmd i
	_init_completion || return

	# The command is the first word that is neither an option nor the
	# argument of --control or --timeout.
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--control|--timeout) ((i++)) ;;
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done

	case $prev in
	--control) _filedir; return ;;
	--timeout) return ;;
	esac
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--control --timeout --version --help' -- "$cur"))
		else
			COMPREPLY=($(compgen -W 'monitor check test status reload record replay' -- "$cur"))
		fi
		return
	fi

	case $cmd in
	monitor)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--json --timestamp --direct --all-netns --control --timeout --help' -- "$cur"))
		elif [[ $cur != *=* ]]; then
			COMPREPLY=($(compgen -W "$_nlhook_types" -- "$cur"))
		fi
		;;
	check)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--dispatch-dir --networkd-dispatcher --help' -- "$cur"))
		else
			_filedir -d
		fi
		;;
	test)
		case $prev in
		--rules) _filedir -d; return ;;
		--replay) _filedir pcap; return ;;
		--event) return ;;
		esac
		COMPREPLY=($(compgen -W '--rules --event --replay --help' -- "$cur"))
		;;
	status)
		COMPREPLY=($(compgen -W '--json --control --timeout --help' -- "$cur"))
		;;
	record)
		case $prev in
		-w|--write) _filedir pcap; return ;;
		--count) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '-w --write --count --help' -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$_nlhook_types" -- "$cur"))
		fi
		;;
	replay)
		case $prev in
		--rules) _filedir -d; return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--rules --json --help' -- "$cur"))
		else
			_filedir pcap
		fi
		;;
	reload)
		COMPREPLY=($(compgen -W '--control --timeout --help' -- "$cur"))
		;;
	esac
} &&
	complete -F _nlhook nlhook

_nlhookd()
{
	local cur prev words cword
	_init_completion || return

	case $prev in
	-r | --rules | --netns-dir | --dispatch-dir | --networkd-dispatcher) _filedir -d; return ;;
	-c | --control) _filedir; return ;;
	-l | --log-level)
		COMPREPLY=($(compgen -W 'err warn info debug' -- "$cur"))
		return
		;;
	--event-log)
		COMPREPLY=($(compgen -W 'syslog mqtt' -- "$cur"))
		_filedir
		return
		;;
	--mqtt)
		COMPREPLY=($(compgen -W 'mqtt:// mqtts://' -- "$cur"))
		compopt -o nospace
		return
		;;
	--mqtt-ca | --mqtt-cert | --mqtt-key | --mqtt-password-file) _filedir; return ;;
	--rcvbuf | --mqtt-queue) return ;;
	esac
	COMPREPLY=($(compgen -W '--rules --control --log-level --check --keep-going
		--rcvbuf --event-log --all-netns --netns-dir --dispatch-dir --networkd-dispatcher --mqtt --mqtt-ca
		--mqtt-cert --mqtt-key --mqtt-password-file --mqtt-queue --version --help' -- "$cur"))
} &&
	complete -F _nlhookd nlhookd
