// Interface strings in Simplified Chinese (default) and English; the choice is remembered.
//
// t(key, params) looks a key up in the current language ("{n}" placeholders are filled
// from params); applyTo(root) fills every [data-i18n] element's text and every
// [data-i18n-attr="attr:key,attr:key"] attribute. FEATURE_WORDS and explainDrivers mirror
// emotion.alerts (the engine's plain-words explanations), so an alert reads the same in
// the feed as in the engine's log, in either language (a browser test compares them).

const STORAGE_KEY = "voiceline.lang";
export const LANGS = ["zh", "en"];

const STRINGS = {
  zh: {
    "app.name": "声线监测",
    "app.wall": "值班长大屏",
    "login.title": "登录",
    "login.name": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.busy": "正在登录…",
    "login.wrong": "用户名或密码不正确。",
    "login.unreachable": "无法连接服务器，请稍后再试。",
    "login.error": "登录失败：{detail}",
    "login.expired": "登录已过期，请重新登录。",
    "login.signedOut": "已退出登录。",
    "nav.logout": "退出",
    "nav.lang": "English",
    "nav.langTitle": "Switch to English",
    "nav.signedInAs": "{name}（{role}）",
    "role.admin": "管理员",
    "role.supervisor": "值班长",
    "role.qa": "质检员",
    "role.agent": "坐席",
    "home.unavailable": "您的角色暂无可用页面",
    "home.unavailableBody": "您以“{role}”身份登录。值班长大屏仅对值班长开放；{role}的页面尚未上线。",
    "home.goWall": "打开值班长大屏",
    "refused.title": "此页面不对您的角色开放",
    "refused.body": "值班长大屏仅限值班长使用。您以“{role}”身份登录，服务器拒绝了该请求。",
    "refused.switch": "切换用户",
    "conn.connecting": "正在连接…",
    "conn.live": "实时",
    "conn.reconnecting": "正在重新连接…",
    "conn.reconnectingIn": "连接中断，{s} 秒后重新连接…",
    "conn.lastUpdate": "最后更新 {time}",
    "strip.inCall": "通话中座席",
    "strip.openAlerts": "未结束告警",
    "strip.stress": "压力指数",
    "strip.stressTitle": "全场坐席偏离各自基线的程度（最近 10 分钟趋势）",
    "strip.seats": "座席总数",
    "state.idle": "空闲",
    "state.in_call": "通话中",
    "state.speaking": "说话中",
    "state.alert": "告警",
    "filter.team": "班组",
    "filter.allTeams": "全部班组",
    "filter.state": "状态",
    "filter.fit": "铺满屏幕",
    "filter.shown": "显示 {n} / {total}",
    "tile.deviation": "σ：与本人平时声音的偏离",
    "kind.agitation": "情绪激动",
    "kind.low_energy": "低能量",
    "severity.warning": "警告",
    "severity.critical": "严重",
    "feed.title": "告警",
    "feed.needsAction": "待处理",
    "feed.all": "全部",
    "feed.empty": "暂无告警",
    "feed.seat": "座席 {seat}",
    "feed.ongoing": "进行中 {d}",
    "feed.ended": "已结束，持续 {d}",
    "feed.ack": "确认",
    "feed.resolve": "处理",
    "feed.acked": "{user} 已确认",
    "feed.resolved": "{user} 已处理：{note}",
    "feed.resolvedNoNote": "{user} 已处理",
    "feed.failed": "操作失败：{detail}",
    "feed.openSeat": "查看座席",
    "critical.banner": "{n} 条严重告警待确认",
    "critical.show": "查看",
    "sound.on": "声音：开",
    "sound.off": "声音：关",
    "sound.title": "严重告警时发出提示音（M 键切换）",
    "sound.blocked": "点击页面任意处以启用提示音",
    "resolve.title": "处理告警",
    "resolve.outcome": "处理结果",
    "resolve.note": "备注（可选）",
    "resolve.submit": "提交",
    "resolve.cancel": "取消",
    "resolve.choose": "请选择处理结果。",
    "resolve.noteJoin": "{outcome}：{text}",
    "outcome.intervened": "已介入",
    "outcome.recovered": "坐席自行恢复",
    "outcome.caller": "来电人原因",
    "outcome.false_alarm": "误报",
    "outcome.other": "其他",
    "detail.title": "座席 {seat}",
    "detail.agent": "坐席",
    "detail.team": "班组",
    "detail.call": "通话",
    "detail.state": "状态",
    "detail.noCall": "当前无通话",
    "detail.loudness": "响度",
    "detail.pitch": "音高",
    "detail.rate": "语速",
    "detail.unitSone": "宋",
    "detail.unitHz": "赫兹",
    "detail.unitRate": "音节/秒",
    "detail.band": "平时范围（5%–95%，深色 25%–75%，虚线为中位数）",
    "detail.noBaseline": "该坐席尚无个人基线，无法显示平时范围。",
    "detail.unscored": "本通话未评分：{reason}",
    "detail.window": "最近 {m} 分钟",
    "detail.now": "现在",
    "detail.ago": "{m} 分钟前",
    "detail.alerts": "本通话的告警",
    "detail.noAlerts": "本通话暂无告警",
    "detail.close": "关闭",
    "detail.waiting": "等待数据…",
    "app.admin": "系统管理",
    "nav.admin": "系统管理",
    "nav.wall": "值班长大屏",
    "nav.qa": "质检队列",
    "refused.adminBody": "系统管理页面仅限管理员使用。您以“{role}”身份登录，服务器拒绝了该请求。",
    "admin.failed": "操作失败：{detail}",
    "admin.loadFailed": "无法读取数据：{detail}",
    "users.title": "用户",
    "users.name": "用户名",
    "users.role": "角色",
    "users.agent": "坐席编号",
    "users.created": "创建时间",
    "users.actions": "操作",
    "users.you": "（您）",
    "users.reset": "重置密码",
    "users.resetOf": "重置 {name} 的密码",
    "users.add": "添加用户",
    "users.password": "初始密码（至少 8 个字符）",
    "users.submit": "添加",
    "users.added": "已添加用户 {name}（{role}）。",
    "users.agentRegistered": "已登记新坐席 {agent}。",
    "users.needName": "请填写用户名。",
    "users.needAgent": "坐席角色的用户需要填写其坐席编号。",
    "users.shortPassword": "密码至少需要 8 个字符。",
    "users.taken": "用户名“{name}”已存在（不区分大小写），请换一个。",
    "reset.title": "重置 {name} 的密码",
    "reset.password": "新密码（至少 8 个字符）",
    "reset.note": "该用户的所有登录会话将被退出，之后需用新密码登录。",
    "reset.submit": "重置",
    "reset.done": "已重置 {name} 的密码，退出了 {n} 个会话。",
    "agents.title": "坐席与基线",
    "agents.intro": "每位坐席的声音都与其本人的基线比较；没有个人基线的坐席按全体坐席的基线评判。用 voiceline calibrate 为坐席校准。",
    "agents.id": "坐席编号",
    "agents.name": "姓名",
    "agents.team": "班组",
    "agents.baseline": "个人基线",
    "agents.speech": "语音时长",
    "agents.channel": "信道",
    "agents.date": "日期",
    "agents.version": "软件版本",
    "agents.has": "有",
    "agents.none": "无个人基线 — 按全体坐席基线评判",
    "agents.view": "查看基线",
    "agents.viewOf": "查看 {agent} 的基线",
    "agents.empty": "尚无登记的坐席。",
    "agents.unscored": "目前没有任何基线：通话只记录、不评分。",
    "channel.8k": "电话 8 kHz",
    "channel.16k": "宽带 16 kHz",
    "baseline.title": "{agent} 的声音基线",
    "baseline.feature": "特征",
    "baseline.median": "平时（中位数）",
    "baseline.range": "平时范围（5%–95%）",
    "baseline.middle": "中间一半（25%–75%）",
    "baseline.explain": "该坐席平时说话时各项声音特征的统计：中位数是最典型的数值；九成时间落在“平时范围”内，一半时间落在“中间一半”内。偏离越远，告警中的 σ 越大。",
    "baseline.windows": "分析窗数",
    "baseline.level": "电平校准",
    "baseline.created": "建立于",
    "baseline.updated": "更新于",
    "baseline.loading": "正在读取…",
    "baseline.missing": "该坐席没有个人基线，按全体坐席基线评判。",
    "tokens.title": "接入令牌",
    "tokens.intro": "电话系统（FreeSWITCH、Twilio、Asterisk）或座席客户端凭接入令牌向本服务发送音频。令牌只能发送音频，不能登录控制台。",
    "tokens.label": "用途（发给谁）",
    "tokens.ttl": "有效期",
    "tokens.never": "永久",
    "tokens.day": "1 天",
    "tokens.month": "30 天",
    "tokens.year": "365 天",
    "tokens.issue": "签发令牌",
    "tokens.needLabel": "请填写用途。",
    "tokens.once": "令牌只显示这一次：离开或刷新本页后无法再查看。请立即复制，并像密码一样妥善保存。",
    "tokens.value": "“{label}”的令牌",
    "tokens.copy": "复制",
    "tokens.copied": "已复制到剪贴板。",
    "tokens.copyManual": "无法自动复制：令牌已选中，请按 Ctrl+C 复制。",
    "duration.s": "{s} 秒",
    "duration.ms": "{m} 分 {s} 秒",
    "duration.hms": "{h} 小时 {m} 分",
    "app.qa": "质检复核",
    "nav.qaQueue": "复核队列",
    "nav.qa": "质检复核",
    "refused.qaBody": "质检复核页面仅对质检员、管理员和值班长开放。您以“{role}”身份登录，服务器拒绝了该请求。",
    "qa.loadFailed": "无法读取数据：{detail}",
    "qa.filters": "筛选",
    "qa.check": "检查项",
    "qa.allChecks": "全部检查项",
    "qa.agent": "坐席编号",
    "qa.from": "日期从",
    "qa.to": "日期至",
    "qa.minScore": "最低分",
    "qa.status": "状态",
    "qa.status.open": "待复核",
    "qa.status.reviewed": "已复核",
    "qa.status.all": "全部",
    "qa.sort": "排序",
    "qa.sort.score": "按分数",
    "qa.sort.recent": "按分析时间",
    "qa.sort.duration": "按时长",
    "qa.apply": "应用",
    "qa.reset": "清除筛选",
    "qa.queue": "复核队列",
    "qa.queueIntro": "每通录音都已自动预质检；分数越高，越需要人工尽快复核。",
    "qa.score": "分数",
    "qa.call": "通话",
    "qa.recorded": "录音时间",
    "qa.duration": "时长",
    "qa.flags": "标记",
    "qa.empty": "没有符合条件的通话。",
    "qa.shown": "第 {from}–{to} 条，共 {total} 条",
    "qa.prev": "上一页",
    "qa.next": "下一页",
    "qa.open": "打开通话 {call}",
    "qa.chip": "{check} {n} 处（{severity}）",
    "qa.precision": "检查项准确率",
    "qa.precisionIntro": "复核员对每个检查项标记的判定：准确率 = 确认 ÷（确认 + 驳回）。准确率低的检查项可以调高阈值：各检查项的阈值在 voiceline qa --config 文件中设置（见 README“预质检”），重新预质检后生效。",
    "qa.precision.flags": "标记数",
    "qa.precision.current": "当前",
    "qa.precision.confirmed": "确认",
    "qa.precision.dismissed": "驳回",
    "qa.precision.value": "准确率",
    "qa.precision.none": "尚无判定",
    "qa.precision.empty": "还没有预质检结果。",
    "channel.agent": "坐席",
    "channel.caller": "来电者",
    "channel.both": "双方",
    "check.dead_air": "冷场",
    "check.slow_response": "响应慢",
    "check.overtalk": "抢话",
    "check.agent_agitation": "坐席情绪激动",
    "check.caller_agitation": "来电者情绪激动",
    "check.fast_speech": "语速过快",
    "check.agent_low_energy": "坐席状态低落",
    "check.clipping": "削波失真",
    "check.low_level": "音量过低",
    "qa.back": "返回队列",
    "qa.callTitle": "通话 {call}",
    "qa.file": "录音文件",
    "qa.agentUnknown": "未知",
    "qa.timeline": "双方响度时间线",
    "qa.timelineHelp": "上：坐席，下：来电者；每 {hop} 秒的均方根电平。色块为标记（编号与下方列表对应），点击色块从该处播放，点击其他位置跳到该时刻。",
    "qa.timelineFailed": "无法绘制时间线：{detail}",
    "qa.timelineLoading": "正在计算时间线…",
    "qa.player": "录音回放",
    "qa.flagList": "标记（{n}）",
    "qa.noFlags": "这通电话没有标记。",
    "qa.playFrom": "从 {time} 播放",
    "qa.span": "{start}–{end}（{channel}）",
    "qa.evidence": "证据",
    "qa.note": "备注",
    "qa.confirm": "确认",
    "qa.dismiss": "驳回",
    "qa.verdict.none": "尚未判定",
    "qa.verdict.confirmed": "已确认",
    "qa.verdict.dismissed": "已驳回",
    "qa.verdictBy": "{verdict} · {user} · {time}",
    "qa.saved": "已保存。",
    "qa.callError": "这通录音无法预质检：{error}",
    "qa.audioRetry": "音频链接已失效，已重新获取。",
    "evidence.silence_s": "沉默时长（秒）",
    "evidence.wait_s": "等待时长（秒）",
    "evidence.overlap_s": "重叠时长（秒）",
    "evidence.peak_probability": "最高概率",
    "evidence.mean_probability": "平均概率",
    "evidence.speech_s": "语音时长（秒）",
    "evidence.baseline": "对比基线",
    "evidence.rate_syl_s": "语速（音节/秒）",
    "evidence.usual_rate_syl_s": "平时语速（音节/秒）",
    "evidence.peak_z": "最大偏离（σ）",
    "evidence.clipped_samples": "满幅采样数",
    "evidence.clipped_share": "满幅采样占比",
    "evidence.turns": "涉及话轮",
    "evidence.level_dbov": "语音电平（dBov）",
    "evidence.drivers": "主要特征",
  },
  en: {
    "app.name": "Voiceline",
    "app.wall": "Supervisor wall",
    "login.title": "Sign in",
    "login.name": "User name",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.busy": "Signing in…",
    "login.wrong": "Wrong user name or password.",
    "login.unreachable": "Cannot reach the server; try again shortly.",
    "login.error": "Sign-in failed: {detail}",
    "login.expired": "Your session has expired; please sign in again.",
    "login.signedOut": "Signed out.",
    "nav.logout": "Sign out",
    "nav.lang": "中文",
    "nav.langTitle": "切换到中文",
    "nav.signedInAs": "{name} ({role})",
    "role.admin": "admin",
    "role.supervisor": "supervisor",
    "role.qa": "QA",
    "role.agent": "agent",
    "home.unavailable": "No page is available for your role yet",
    "home.unavailableBody": "You are signed in as {role}. The live wall is for supervisors; the {role} pages are not available yet.",
    "home.goWall": "Open the live wall",
    "refused.title": "This page is not available for your role",
    "refused.body": "The live wall is for supervisors only. You are signed in as {role}, and the server refused the request.",
    "refused.switch": "Switch user",
    "conn.connecting": "Connecting…",
    "conn.live": "Live",
    "conn.reconnecting": "Reconnecting…",
    "conn.reconnectingIn": "Connection lost; reconnecting in {s} s…",
    "conn.lastUpdate": "Last update {time}",
    "strip.inCall": "Seats in call",
    "strip.openAlerts": "Open alerts",
    "strip.stress": "Stress index",
    "strip.stressTitle": "How far the floor as a whole sits from its baselines (trend over the last 10 minutes)",
    "strip.seats": "Seats",
    "state.idle": "Idle",
    "state.in_call": "In call",
    "state.speaking": "Speaking",
    "state.alert": "Alert",
    "filter.team": "Team",
    "filter.allTeams": "All teams",
    "filter.state": "State",
    "filter.fit": "Fit to screen",
    "filter.shown": "Showing {n} of {total}",
    "tile.deviation": "σ: how far from the agent's own usual voice",
    "kind.agitation": "Agitation",
    "kind.low_energy": "Low energy",
    "severity.warning": "Warning",
    "severity.critical": "Critical",
    "feed.title": "Alerts",
    "feed.needsAction": "Needs action",
    "feed.all": "All",
    "feed.empty": "No alerts",
    "feed.seat": "seat {seat}",
    "feed.ongoing": "ongoing, {d}",
    "feed.ended": "ended, lasted {d}",
    "feed.ack": "Acknowledge",
    "feed.resolve": "Resolve",
    "feed.acked": "acknowledged by {user}",
    "feed.resolved": "resolved by {user}: {note}",
    "feed.resolvedNoNote": "resolved by {user}",
    "feed.failed": "Failed: {detail}",
    "feed.openSeat": "Open seat",
    "critical.banner": "{n} critical alert(s) need attention",
    "critical.show": "Show",
    "sound.on": "Sound: on",
    "sound.off": "Sound: off",
    "sound.title": "Beep on critical alerts (M toggles)",
    "sound.blocked": "Click anywhere to enable the alert sound",
    "resolve.title": "Resolve alert",
    "resolve.outcome": "Outcome",
    "resolve.note": "Note (optional)",
    "resolve.submit": "Resolve",
    "resolve.cancel": "Cancel",
    "resolve.choose": "Choose an outcome.",
    "resolve.noteJoin": "{outcome}: {text}",
    "outcome.intervened": "Intervened",
    "outcome.recovered": "Agent recovered",
    "outcome.caller": "Caller's doing",
    "outcome.false_alarm": "False alarm",
    "outcome.other": "Other",
    "detail.title": "Seat {seat}",
    "detail.agent": "Agent",
    "detail.team": "Team",
    "detail.call": "Call",
    "detail.state": "State",
    "detail.noCall": "no call now",
    "detail.loudness": "Loudness",
    "detail.pitch": "Pitch",
    "detail.rate": "Speaking rate",
    "detail.unitSone": "sone",
    "detail.unitHz": "Hz",
    "detail.unitRate": "syl/s",
    "detail.band": "Usual range (5–95 %, darker 25–75 %, dashed: median)",
    "detail.noBaseline": "This agent has no baseline of their own yet; no usual range to show.",
    "detail.unscored": "This call is not scored: {reason}",
    "detail.window": "last {m} min",
    "detail.now": "now",
    "detail.ago": "{m} min ago",
    "detail.alerts": "Alerts of this call",
    "detail.noAlerts": "No alerts on this call",
    "detail.close": "Close",
    "detail.waiting": "Waiting for data…",
    "app.admin": "Administration",
    "nav.admin": "Administration",
    "nav.wall": "Live wall",
    "nav.qa": "QA queue",
    "refused.adminBody": "The administration page is for admins only. You are signed in as {role}, and the server refused the request.",
    "admin.failed": "Failed: {detail}",
    "admin.loadFailed": "Cannot read the data: {detail}",
    "users.title": "Users",
    "users.name": "User name",
    "users.role": "Role",
    "users.agent": "Agent ID",
    "users.created": "Created",
    "users.actions": "Actions",
    "users.you": " (you)",
    "users.reset": "Reset password",
    "users.resetOf": "Reset {name}'s password",
    "users.add": "Add a user",
    "users.password": "Initial password (8 characters or more)",
    "users.submit": "Add",
    "users.added": "Added user {name} ({role}).",
    "users.agentRegistered": "Registered new agent {agent}.",
    "users.needName": "Enter a user name.",
    "users.needAgent": "An agent user needs the agent ID they speak as.",
    "users.shortPassword": "The password needs at least 8 characters.",
    "users.taken": "A user named \"{name}\" already exists (names ignore case); choose another.",
    "reset.title": "Reset {name}'s password",
    "reset.password": "New password (8 characters or more)",
    "reset.note": "All of this user's sessions are signed out; they sign in again with the new password.",
    "reset.submit": "Reset",
    "reset.done": "Reset {name}'s password; {n} session(s) signed out.",
    "agents.title": "Agents and baselines",
    "agents.intro": "Each agent's voice is compared with their own baseline; an agent without one is judged against the population baseline. Calibrate agents with voiceline calibrate.",
    "agents.id": "Agent ID",
    "agents.name": "Name",
    "agents.team": "Team",
    "agents.baseline": "Own baseline",
    "agents.speech": "Speech",
    "agents.channel": "Channel",
    "agents.date": "Date",
    "agents.version": "Software version",
    "agents.has": "Yes",
    "agents.none": "No baseline — judged against the population",
    "agents.view": "View baseline",
    "agents.viewOf": "View {agent}'s baseline",
    "agents.empty": "No agents registered yet.",
    "agents.unscored": "No baselines at all: calls are recorded but not scored.",
    "channel.8k": "telephone 8 kHz",
    "channel.16k": "wideband 16 kHz",
    "baseline.title": "{agent}'s voice baseline",
    "baseline.feature": "Feature",
    "baseline.median": "Usual (median)",
    "baseline.range": "Usual range (5–95 %)",
    "baseline.middle": "Middle half (25–75 %)",
    "baseline.explain": "How this agent usually sounds, feature by feature: the median is the most typical value; nine times in ten it lies within the usual range, half the time within the middle half. The further a voice moves outside, the larger the σ in an alert.",
    "baseline.windows": "Windows",
    "baseline.level": "Level profile",
    "baseline.created": "Created",
    "baseline.updated": "Updated",
    "baseline.loading": "Loading…",
    "baseline.missing": "This agent has no baseline of their own and is judged against the population.",
    "tokens.title": "Ingest tokens",
    "tokens.intro": "A telephony system (FreeSWITCH, Twilio, Asterisk) or a seat client sends audio to this service with an ingest token. It can only stream audio; it cannot sign in to the console.",
    "tokens.label": "Label (whom it is for)",
    "tokens.ttl": "Valid for",
    "tokens.never": "no expiry",
    "tokens.day": "1 day",
    "tokens.month": "30 days",
    "tokens.year": "365 days",
    "tokens.issue": "Issue token",
    "tokens.needLabel": "Enter a label.",
    "tokens.once": "This token is shown only once: it cannot be shown again after you leave or reload this page. Copy it now and keep it as safe as a password.",
    "tokens.value": "Token for \"{label}\"",
    "tokens.copy": "Copy",
    "tokens.copied": "Copied to the clipboard.",
    "tokens.copyManual": "Cannot copy automatically: the token is selected; press Ctrl+C.",
    "duration.s": "{s} s",
    "duration.ms": "{m} min {s} s",
    "duration.hms": "{h} h {m} min",
    "app.qa": "QA review",
    "nav.qaQueue": "Review queue",
    "nav.qa": "QA review",
    "refused.qaBody": "The QA review pages are for QA staff, admins and supervisors. You are signed in as {role}, and the server refused the request.",
    "qa.loadFailed": "Cannot read the data: {detail}",
    "qa.filters": "Filters",
    "qa.check": "Check",
    "qa.allChecks": "All checks",
    "qa.agent": "Agent ID",
    "qa.from": "From",
    "qa.to": "To",
    "qa.minScore": "Min. score",
    "qa.status": "Status",
    "qa.status.open": "To review",
    "qa.status.reviewed": "Reviewed",
    "qa.status.all": "All",
    "qa.sort": "Sort",
    "qa.sort.score": "By score",
    "qa.sort.recent": "By analysis time",
    "qa.sort.duration": "By length",
    "qa.apply": "Apply",
    "qa.reset": "Clear filters",
    "qa.queue": "Review queue",
    "qa.queueIntro": "Every recording has been pre-inspected; the higher the score, the sooner a person should review it.",
    "qa.score": "Score",
    "qa.call": "Call",
    "qa.recorded": "Recorded",
    "qa.duration": "Length",
    "qa.flags": "Flags",
    "qa.empty": "No calls match.",
    "qa.shown": "{from}–{to} of {total}",
    "qa.prev": "Previous",
    "qa.next": "Next",
    "qa.open": "Open call {call}",
    "qa.chip": "{check} ×{n} ({severity})",
    "qa.precision": "Check precision",
    "qa.precisionIntro": "Reviewers' verdicts on each check's flags: precision = confirmed ÷ (confirmed + dismissed). A check with low precision can be given a stricter threshold: each check's thresholds are set in the file of voiceline qa --config (see README, Pre-inspection) and apply when calls are inspected again.",
    "qa.precision.flags": "Flags",
    "qa.precision.current": "Current",
    "qa.precision.confirmed": "Confirmed",
    "qa.precision.dismissed": "Dismissed",
    "qa.precision.value": "Precision",
    "qa.precision.none": "not judged yet",
    "qa.precision.empty": "No pre-inspection results yet.",
    "channel.agent": "agent",
    "channel.caller": "caller",
    "channel.both": "both",
    "check.dead_air": "Dead air",
    "check.slow_response": "Slow response",
    "check.overtalk": "Overtalk",
    "check.agent_agitation": "Agent agitation",
    "check.caller_agitation": "Caller agitation",
    "check.fast_speech": "Fast speech",
    "check.agent_low_energy": "Agent low energy",
    "check.clipping": "Clipping",
    "check.low_level": "Low level",
    "qa.back": "Back to the queue",
    "qa.callTitle": "Call {call}",
    "qa.file": "Recording",
    "qa.agentUnknown": "unknown",
    "qa.timeline": "Loudness of both parties",
    "qa.timelineHelp": "Top: agent, bottom: caller; RMS level every {hop} s. Coloured spans are flags (numbered as in the list below): click one to play from there, anywhere else to jump to that moment.",
    "qa.timelineFailed": "Cannot draw the timeline: {detail}",
    "qa.timelineLoading": "Drawing the timeline…",
    "qa.player": "Recording",
    "qa.flagList": "Flags ({n})",
    "qa.noFlags": "This call has no flags.",
    "qa.playFrom": "Play from {time}",
    "qa.span": "{start}–{end} ({channel})",
    "qa.evidence": "Evidence",
    "qa.note": "Note",
    "qa.confirm": "Confirm",
    "qa.dismiss": "Dismiss",
    "qa.verdict.none": "not judged yet",
    "qa.verdict.confirmed": "Confirmed",
    "qa.verdict.dismissed": "Dismissed",
    "qa.verdictBy": "{verdict} · {user} · {time}",
    "qa.saved": "Saved.",
    "qa.callError": "This recording could not be inspected: {error}",
    "qa.audioRetry": "The audio link had expired; a new one was fetched.",
    "evidence.silence_s": "Silence (s)",
    "evidence.wait_s": "Wait (s)",
    "evidence.overlap_s": "Overlap (s)",
    "evidence.peak_probability": "Peak probability",
    "evidence.mean_probability": "Mean probability",
    "evidence.speech_s": "Speech (s)",
    "evidence.baseline": "Compared with",
    "evidence.rate_syl_s": "Rate (syl/s)",
    "evidence.usual_rate_syl_s": "Usual rate (syl/s)",
    "evidence.peak_z": "Largest deviation (σ)",
    "evidence.clipped_samples": "Samples at full scale",
    "evidence.clipped_share": "Share at full scale",
    "evidence.turns": "Turns",
    "evidence.level_dbov": "Speech level (dBov)",
    "evidence.drivers": "Main features",
  },
};

/** Per feature: words for a z above and below the agent's usual (emotion.alerts). */
export const FEATURE_WORDS = {
  en: {
    loudness_n5_sone: ["louder", "quieter"],
    loudness_mean_sone: ["louder", "quieter"],
    sharpness_acum: ["sharper", "duller"],
    roughness_asper: ["rougher", "smoother"],
    fluctuation_vacil: ["more uneven", "steadier"],
    f0_median_st: ["higher-pitched", "lower-pitched"],
    f0_range_st: ["more varied pitch", "flatter pitch"],
    speech_rate_syl_s: ["faster", "slower"],
    pause_ratio: ["more pauses", "fewer pauses"],
    spectral_balance: ["brighter", "darker"],
    aperiodicity: ["hoarser", "clearer"],
    f0_movement_st: ["jumpier pitch", "steadier pitch"],
    vowel_centroid_hz: ["more open, effortful vowels", "more muffled vowels"],
    vowel_tilt_db: ["softer voice quality", "more pressed voice"],
    loudness_slope_sone_s: ["more abrupt loudness changes", "gentler loudness changes"],
  },
  zh: {
    loudness_n5_sone: ["音量更大", "音量更小"],
    loudness_mean_sone: ["音量更大", "音量更小"],
    sharpness_acum: ["声音更尖", "声音更闷"],
    roughness_asper: ["声音更粗糙", "声音更平滑"],
    fluctuation_vacil: ["起伏更不均匀", "更平稳"],
    f0_median_st: ["音调更高", "音调更低"],
    f0_range_st: ["音调变化更大", "音调更平"],
    speech_rate_syl_s: ["语速更快", "语速更慢"],
    pause_ratio: ["停顿更多", "停顿更少"],
    spectral_balance: ["音色更亮", "音色更暗"],
    aperiodicity: ["声音更沙哑", "声音更清亮"],
    f0_movement_st: ["音调跳动更多", "音调更稳"],
    vowel_centroid_hz: ["元音更开、更用力", "元音更闷"],
    vowel_tilt_db: ["发声更松", "发声更紧"],
    loudness_slope_sone_s: ["音量变化更急", "音量变化更缓"],
  },
};

/**
 * Per feature: its name in plain words and the unit the admin page shows it in (the
 * engine's FEATURE_NAMES; pitch is shown in hertz, shares in per cent).
 */
export const FEATURE_LABELS = {
  zh: {
    loudness_n5_sone: ["响度（响亮时刻）", "宋"],
    loudness_mean_sone: ["平均响度", "宋"],
    sharpness_acum: ["尖锐度", "acum"],
    roughness_asper: ["粗糙度", "asper"],
    fluctuation_vacil: ["起伏强度", "vacil"],
    f0_median_st: ["音高", "赫兹"],
    f0_range_st: ["音高变化幅度", "半音"],
    speech_rate_syl_s: ["语速", "音节/秒"],
    pause_ratio: ["停顿占比", "%"],
    spectral_balance: ["音色明亮度（1.3 kHz 以上的响度占比）", "%"],
    aperiodicity: ["沙哑度（非周期性）", ""],
    f0_movement_st: ["音高跳动", "半音"],
    vowel_centroid_hz: ["元音共鸣重心", "赫兹"],
    vowel_tilt_db: ["发声松紧（元音频谱倾斜）", "分贝"],
    loudness_slope_sone_s: ["音量变化速度", "宋/秒"],
  },
  en: {
    loudness_n5_sone: ["Loudness of loud moments", "sone"],
    loudness_mean_sone: ["Mean loudness", "sone"],
    sharpness_acum: ["Sharpness", "acum"],
    roughness_asper: ["Roughness", "asper"],
    fluctuation_vacil: ["Unevenness (fluctuation strength)", "vacil"],
    f0_median_st: ["Pitch", "Hz"],
    f0_range_st: ["Pitch range", "semitones"],
    speech_rate_syl_s: ["Speaking rate", "syl/s"],
    pause_ratio: ["Share of pauses", "%"],
    spectral_balance: ["Brightness (share of loudness above 1.3 kHz)", "%"],
    aperiodicity: ["Hoarseness (aperiodicity)", ""],
    f0_movement_st: ["Pitch jumpiness", "semitones"],
    vowel_centroid_hz: ["Vowel resonance centre", "Hz"],
    vowel_tilt_db: ["Pressed or soft voice (vowel tilt)", "dB"],
    loudness_slope_sone_s: ["Speed of loudness changes", "sone/s"],
  },
};

function storedLang() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(value) ? value : "zh";
  } catch {
    return "zh";
  }
}

let current = storedLang();
const listeners = new Set();

export function lang() {
  return current;
}

export function setLang(value) {
  if (!LANGS.includes(value) || value === current) return;
  current = value;
  try {
    localStorage.setItem(STORAGE_KEY, value);
  } catch {
    // private mode: the choice lasts for this page only
  }
  document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
  applyTo(document);
  for (const listener of listeners) listener(value);
}

export function toggleLang() {
  setLang(current === "zh" ? "en" : "zh");
}

/** Call ``listener(lang)`` after every language change. */
export function onLangChange(listener) {
  listeners.add(listener);
}

export function t(key, params) {
  let text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }
  return text;
}

/** Fill [data-i18n] texts and [data-i18n-attr] attributes under ``root``. */
export function applyTo(root) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

export function roleName(role) {
  return t(`role.${role}`);
}

/** "7 秒", "2 分 5 秒" / "7 s", "2 min 5 s"; ``seconds`` is rounded and floored at 0. */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return t("duration.s", { s: total });
  if (total < 3600) return t("duration.ms", { m: Math.floor(total / 60), s: total % 60 });
  return t("duration.hms", { h: Math.floor(total / 3600), m: Math.floor((total % 3600) / 60) });
}

function signed(z) {
  const text = Math.abs(z).toFixed(1);
  // Python's "{:+.1f}" keeps the sign of a negative number rounded to zero ("-0.0").
  return (z < 0 ? "-" : "+") + text;
}

/**
 * The drivers of an alert in plain words, as emotion.alerts.explain_drivers says them.
 *
 * @param {Array<{feature: string, z: number}|[string, number]>} drivers
 * @param {string|null} agent  the agent's label, or null for "usual"
 * @param {number} durationS
 * @param {string} [language]  "zh" or "en"; default the interface language
 * @param {boolean} [withDuration]  end with "for N s" as the engine does (the feed shows
 *   how long separately, so it leaves it off)
 */
export function explainDrivers(drivers, agent, durationS, language = current, withDuration = true) {
  const words = FEATURE_WORDS[language];
  const parts = [];
  const said = new Set();
  for (const driver of drivers) {
    const [name, z] = Array.isArray(driver) ? driver : [driver.feature, driver.z];
    if (typeof z !== "number" || !Number.isFinite(z)) continue;
    const [up, down] = words[name] ?? [`${name} ↑`, `${name} ↓`];
    const word = z > 0 ? up : down;
    if (!said.has(word)) {
      said.add(word);
      parts.push([word, `${signed(z)} σ`]);
    }
  }
  const seconds = Math.max(0, pyRound(durationS));
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (language === "zh") {
    const whose = agent ? `${agent}平时` : "平时";
    const span = minutes ? `${minutes} 分 ${rest} 秒` : `${rest} 秒`;
    const tail = withDuration ? `，持续 ${span}` : "";
    if (!parts.length) return `与${whose}相比没有哪一项特别突出${tail}`;
    return `与${whose}相比：${parts.map(([w, z]) => `${w}（${z}）`).join("、")}${tail}`;
  }
  const whose = agent ? `${agent}'s usual` : "usual";
  const span = minutes ? `${minutes} min ${rest} s` : `${rest} s`;
  const tail = withDuration ? `, for ${span}` : "";
  if (!parts.length) return `no single feature stands out from ${whose}${tail}`;
  const items = parts.map(([w, z]) => `${w} (${z})`);
  const listed = items.length === 1 ? items[0] : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
  return `${listed} than ${whose}${tail}`;
}

/** Python's round(): halves go to the even neighbour. */
function pyRound(x) {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
