// Stand-in for ReadSpeaker's webReader.js.
standInCookie("_rspkrLoadCore", 1800);
standInCookie("ReadSpeakerSettings", 31536000);
